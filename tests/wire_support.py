"""FakeCrowdTwist on a loopback port, for the tests that need a real wire.

`listing_fake` builds the fake these tests read from: a member whose rewards
are numbered 1 to *total*, ten to a page. `Served` counts each page's
requests as they arrive (a `script(when=...)` that never matches sees every
request, before any delay or fault) and the headers each one carried.
`Loopback` is one uvicorn server for a module that answers with the `Served`
fake a test installs, so a module starts one server, not one a test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from crowdtwist_async.testing import FakeCrowdTwist, RecordedRequest

# Private on purpose: `FakeCrowdTwist.serve()` serves one fake; `Loopback` is
# another app (one port for a module, a fresh fake per test), and `Served`
# records the headers on arrival (the fake's `requests` only once answered).
# This is the uvicorn runner `serve()` itself uses.
from crowdtwist_async.testing._server import serve_in_thread

from .sample_data import API_KEY

#: The CrowdTwist id of the member `listing_fake` adds.
MEMBER = "42"
#: The sample program's alice (`SANDBOX_EMAIL`), 203 rewards on offer.
ALICE = "1001"

Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Mapping[str, Any], Receive, Send], Awaitable[None]]


def listing_fake(total: int, *, latency: float = 0.0, jitter: float = 0.0) -> FakeCrowdTwist:
    """A fake taking `API_KEY` whose member `MEMBER` has rewards "1" to *total*."""
    fake = FakeCrowdTwist(seed=0, api_key=API_KEY, latency=latency, jitter=jitter)
    member = fake.add_user(id=int(MEMBER))
    for number in range(1, total + 1):
        fake.add_reward(member, id=str(number))
    return fake


def sample_fake() -> FakeCrowdTwist:
    """The sample program (alice is `ALICE`), taking `API_KEY`."""
    return FakeCrowdTwist(seed=0, api_key=API_KEY)


class Served:
    """A fake as a test serves it, with what arrived at it.

    `attempts` counts each page's requests on arrival (a request whose answer
    is delayed, or never sent, counts at once); `headers` holds each
    request's headers (lower-case names), in the order they arrived.
    """

    def __init__(self, fake: FakeCrowdTwist) -> None:
        self.fake = fake
        self.attempts: Counter[int] = Counter()
        self.headers: list[dict[str, str]] = []
        # First in the queue, and never matching: it sees every request.
        fake.script(when=self._arrived)

    def _arrived(self, request: RecordedRequest) -> bool:
        if request.page is not None:
            self.attempts[request.page] += 1
        return False

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.headers.append(
                {
                    name.decode("latin-1").lower(): value.decode("latin-1")
                    for name, value in scope["headers"]
                }
            )
        await self.fake(scope, receive, send)


class Loopback:
    """One served port; each test installs its own app (a fake, or a `Served`) as `target`."""

    def __init__(self, target: App, url: str = "") -> None:
        self.target = target
        self.url = url

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        await self.target(scope, receive, send)


@contextmanager
def loopback(target: App) -> Iterator[Loopback]:
    """Serve a `Loopback` (first answering with *target*) on a free port of 127.0.0.1."""
    app = Loopback(target)
    with serve_in_thread(app, host="127.0.0.1", port=0, allow_remote=False) as url:
        app.url = url
        yield app
