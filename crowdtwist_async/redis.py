"""One rate limit shared by every process that uses one CrowdTwist program.

CrowdTwist limits a program (one API key) as a whole: 10,000 requests a
minute, a leaky bucket that answers 429 past it. `Session(rate_limit=50)`
paces one process; a deployment that runs the same key in many processes
needs them all paced together. `RedisRateLimiter` keeps that one bucket in
Redis, and any number of Sessions in any number of processes pass it as their
`rate_limit=`:

```python
import crowdtwist_async as ct
from crowdtwist_async.redis import RedisRateLimiter

async with RedisRateLimiter(
    "redis://localhost:6379/0", rate=150, key="crowdtwist:program:123"
) as limiter:
    async with ct.Session(api_key="KEY", client_id=123, rate_limit=limiter) as session:
        page = await session.users.get_rewards_page("alice@example.com", id_type="email")
```

Every attempt takes a token, retries included: the Session asks the limiter
before each one. asyncio only (redis-py's asyncio client), and it needs the
`redis` extra: `pip install "crowdtwist-async[redis]"`. Importing
`crowdtwist_async` does not import this module, nor redis-py.

**How it decides: GCRA with reservation.** The key holds one number, the
program's *theoretical arrival time* (TAT): when the bucket will next be
empty, in microseconds of the Redis server's clock. One Lua script, atomic in
Redis, reads the server's `TIME`, reserves the caller's start time (the TAT,
less what the burst allows, and never before now), moves the TAT on by one
interval (1 / `rate`) and answers how long the caller is to wait. Then:

- the clock is the server's, so hosts whose clocks disagree still share one
  schedule; only the wait (a duration) crosses over to the caller's clock;
- a caller sleeps once, without polling, and callers start in the order the
  script served them: none starves, in a process or across them;
- a caller cancelled while it waits (or a process killed) leaves its slot
  unused: the rate can only come out lower, never higher;
- the key is written with an expiry (`SET ... PX`) a millisecond past the
  TAT, when the value stops mattering: an idle program leaves nothing behind.

**Many callers, one connection.** Callers that arrive while a round trip
is out are reserved together by the next one (one script call reserves up to
1,000 start times, in the order they asked), so one limiter keeps one
connection busy however many requests wait on it.

**When Redis cannot answer.** A caller waits at most `timeout` for its start
time, from when it asks, and each round trip is given up after `timeout` too
(`anyio.fail_after`, plus the socket timeouts of a client built from a URL),
whatever socket timeouts a client of yours has. Past it, or when Redis
refuses the connection or answers with an error, `acquire()` raises
`crowdtwist_async.RateLimiterError` naming the key and the timeout, and the
request is not sent. Nothing falls back to a local
limit on its own: a silent fallback would let every process run at the whole
program's rate at once. Catch the error and choose, e.g. a Session with
`rate_limit=<this process's share>`.
"""

from __future__ import annotations

from ._redis import INSTALL_HINT, RedisRateLimiter

__all__ = ["INSTALL_HINT", "RedisRateLimiter"]
