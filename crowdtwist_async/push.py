"""CrowdTwist's Live Push, taken in safely: typed events, a receiver, a Redis sink.

Live Push POSTs each event of five feeds (User Redemption, User Activity,
User Profile, Points Expiration, User Segmentation) to an HTTPS endpoint of
the program's, one URL per feed. CrowdTwist authenticates itself with HTTP
Basic or an `x-api-key` header (no signature), and retries a delivery that
did not get a 2xx five times an hour for eight hours. So a receiver refuses
what is not CrowdTwist, answers 2xx only once the event is safe, and takes a
retried delivery as the same event (`delivery_key`):

```python
from crowdtwist_async import push

sink = push.RedisStreamSink("redis://localhost:6379/0", stream="crowdtwist:events")
app = push.receiver(sink, basic_auth=("crowdtwist", "a-long-random-password"))
# uvicorn module:app, behind TLS; give CrowdTwist https://<host>/user_redemption, ...
```

- `receiver(on_event, *, basic_auth=None, api_key=None, max_body=...)`: an
  ASGI app with one path per feed (`/user_redemption`, `/user_activity`,
  `/user_profile`, `/points_expiration`, `/user_segmentation`); 200 only after
  `await on_event(event)` returned, 503 when it raised (CrowdTwist retries).
- `RedisStreamSink`: an `on_event` that adds each delivery to a Redis Stream
  once per `delivery_key`, atomically (the `redis` extra). Consumers read the
  stream and turn each entry back into its event with `event_from_entry`.
- The events: `UserRedemptionEvent`, `UserActivityEvent`, `UserProfileEvent`,
  `PointsExpirationEvent`, `UserSegmentationEvent` (`PushEvent`), from a body
  with `parse_event(feed, body)`, back to JSON with `event_body(event)`.

Importing `crowdtwist_async` does not import this module; importing this
module does not import redis-py.
"""

from __future__ import annotations

from ._push_events import (
    FEEDS,
    Feed,
    PointsExpirationEvent,
    PushEvent,
    PushEventError,
    UserActivityEvent,
    UserProfileEvent,
    UserRedemptionEvent,
    UserSegmentationEvent,
    event_body,
    parse_event,
)
from ._push_receiver import DEFAULT_MAX_BODY, Receiver, receiver
from ._push_sink import (
    DEFAULT_DEDUPE_TTL,
    INSTALL_HINT,
    RETRY_WINDOW,
    PushSinkError,
    RedisStreamSink,
    event_from_entry,
)

__all__ = [
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_MAX_BODY",
    "FEEDS",
    "INSTALL_HINT",
    "RETRY_WINDOW",
    "Feed",
    "PointsExpirationEvent",
    "PushEvent",
    "PushEventError",
    "PushSinkError",
    "Receiver",
    "RedisStreamSink",
    "UserActivityEvent",
    "UserProfileEvent",
    "UserRedemptionEvent",
    "UserSegmentationEvent",
    "event_body",
    "event_from_entry",
    "parse_event",
    "receiver",
]
