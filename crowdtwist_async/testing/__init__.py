"""An in-memory CrowdTwist for tests, demos and local development.

`FakeCrowdTwist` serves the member API: profile, points, rewards, usable
coupons, activity and redemption histories, the rewards catalogue, and
redemption, activity credit and coupon use/unuse, with state, from seeded
sample data. It keeps the vendor's documented paging, errors and wire
quirks, checks HMAC signatures when given keys, adds latency, failures,
scripted responses and lying pages on demand, and records what it served.

`fake.lie()` makes every page of a paginated endpoint misreport its paging
(total, pages, links, page size), its records or its delay, as `PagingLies`
describes, until the lies are removed from `fake.lies`. `fake.script()`
also takes wire faults, the same through `transport()` as on a port: a
connection dropped after `reset_after` bytes, a body trickled in pieces, a
body sent without a Content-Length. `fake.serve_raw()` serves the fake on a
loopback port where a test may answer any request with raw bytes no HTTP
server would send: broken framing, bad header bytes, or not HTTP at all.

`LivePush` plays CrowdTwist's Live Push against a receiver's URL: each
event POSTed to `{url}/{feed}` with HTTP Basic and/or `x-api-key`, retried on
anything but a 2xx on CrowdTwist's schedule (time compressed by a factor),
every attempt recorded; `sample_event()` makes a realistic body per feed.
With `fake.live_push` set, the fake's own redemptions and activity credits
are pushed too.

**Usage**

```python
import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

fake = FakeCrowdTwist(seed=0)
async with ct.Session(
    api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
) as session:
    coupons = await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
```

In a test suite, `set_testing(True)` turns the waits between retries off, so
failures are retried at once.

Or on a port, from a shell (needs `pip install "crowdtwist-async[serve]"`):

```console
$ python -m crowdtwist_async.testing serve --port 8000
```
"""

from .._retry import set_testing
from .._state import reset_process_state
from ._core import PagingLies
from ._data import SANDBOX_EMAIL, FakeCoupon, FakeUser
from ._fake import FakeCrowdTwist, RecordedRequest
from ._push import Delivery, LivePush, PushAttempt, sample_event

__all__ = [
    "SANDBOX_EMAIL",
    "Delivery",
    "FakeCoupon",
    "FakeCrowdTwist",
    "FakeUser",
    "LivePush",
    "PagingLies",
    "PushAttempt",
    "RecordedRequest",
    "reset_process_state",
    "sample_event",
    "set_testing",
]
