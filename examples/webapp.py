"""A Starlette app that streams a member's rewards as a JSON array.

It shows one `ct.Session` for the whole app, entered by the lifespan and
shared by every request; a listing streamed to the client reward by reward
as its pages arrive, never held whole; and SDK errors turned into HTTP
statuses, decided before the first byte goes out.

    GET /users/{user_id}/rewards[?id_type=email]

- 200, `application/json`: a JSON array of the member's rewards, in listing order.
- 400: a bad `id_type`; 404: no such member; 502: CrowdTwist refused our key
  or failed; 503: CrowdTwist asked us to slow down. The body is
  `{"error": ..., "message": ...}` and never holds the key.

Once the array has started, the status is sent and cannot change: a failure
then cuts the response short, so the body is not valid JSON (no closing `]`,
and the server ends the connection without finishing the chunked body).
Clients cannot take a partial listing for the whole of it.

Run it (`pip install "crowdtwist-async[examples,serve]"`), on the built-in
sandbox (no account, no network) or on your program:

    python examples/webapp.py --sandbox
    curl 'http://127.0.0.1:8000/users/alice@example.com/rewards?id_type=email'

    export CROWDTWIST_API_KEY=... CROWDTWIST_BASE_URL=https://api123.crowdtwist.com
    uvicorn examples.webapp:app
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

import crowdtwist_async as ct

log = logging.getLogger(__name__)

SessionFactory = Callable[[], ct.Session]


def session_from_env() -> ct.Session:
    """A Session on $CROWDTWIST_API_KEY and $CROWDTWIST_BASE_URL."""
    # One budget of requests in flight for the whole app: every request's
    # page fetches share it, so a burst of visitors cannot flood CrowdTwist.
    return ct.Session(max_concurrency=16)


def sandbox_session() -> ct.Session:
    """A Session on the built-in FakeCrowdTwist (alice@example.com has 203 rewards)."""
    from crowdtwist_async.testing import FakeCrowdTwist

    # A little latency, as over a network, so the streaming shows.
    fake = FakeCrowdTwist(seed=0, latency=0.02)
    return ct.Session(api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport())


def create_app(session_factory: SessionFactory | None = None) -> Starlette:
    """The app; *session_factory* makes its one Session (default: `session_from_env`)."""
    make_session = session_factory or session_from_env

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # One Session for the app's life, shared by every request: one
        # connection pool, one limit on requests in flight. Made and closed
        # as an httpx client is, so no block is held open across the yield.
        session = make_session()
        try:
            yield {"session": session}
        finally:
            await session.aclose()

    return Starlette(routes=[Route("/users/{user_id}/rewards", rewards)], lifespan=lifespan)


async def rewards(request: Request) -> Response:
    session: ct.Session = request.state.session
    raw_id_type = request.query_params.get("id_type")
    try:
        # A string from outside becomes an IdType here, or a ValueError.
        id_type = None if raw_id_type is None else ct.IdType(raw_id_type)
        listing = session.users.aiter_rewards(request.path_params["user_id"], id_type=id_type)
    except ValueError as exc:  # checked before any request
        return _error(400, "bad_request", str(exc))
    # The status goes out with the first byte. Waiting for the first reward
    # (page 1) makes an unknown member a real 404, not a 200 with a broken body.
    try:
        first = await anext(listing)
    except StopAsyncIteration:
        return JSONResponse([])
    except ct.CrowdTwistError as exc:
        return _upstream_error(exc)
    return StreamingResponse(_json_array(first, listing), media_type="application/json")


async def _json_array(first: ct.Reward, rest: ct.AsyncPaginator[ct.Reward]) -> AsyncIterator[bytes]:
    try:
        yield b"[\n" + reward_json(first)
        # An error from here on propagates: the server aborts the response
        # and the array stays unclosed.
        async for reward in rest:
            yield b",\n" + reward_json(reward)
        yield b"\n]\n"
    finally:
        # A plain listing runs nothing between items, so a client that went
        # away leaves no request behind; this marks the listing finished.
        await rest.aclose()


def _upstream_error(exc: ct.CrowdTwistError) -> JSONResponse:
    if isinstance(exc, ct.NotFoundError):
        return _error(404, "not_found", "no such member")
    # These are about our credentials or CrowdTwist's state, not the caller's
    # request: log the details (SDK errors never hold the key), answer vaguely.
    log.error("CrowdTwist request failed: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, ct.RateLimitError):
        wait = exc.retry_after
        headers = {"Retry-After": str(math.ceil(wait))} if wait is not None else None
        return _error(503, "busy", "the rewards service is busy; try again later", headers)
    if isinstance(exc, ct.AuthenticationError):
        return _error(502, "upstream_auth", "the rewards service refused our credentials")
    return _error(502, "upstream_error", "the rewards service failed; try again later")


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def reward_json(reward: ct.Reward) -> bytes:
    """One reward as JSON, under the API's key names."""
    return json.dumps(ct.to_dict(reward), ensure_ascii=False).encode()


app = create_app()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve members' rewards as streamed JSON.")
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in FakeCrowdTwist, no account"
    )
    parser.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(
        create_app(sandbox_session if args.sandbox else None), host=args.host, port=args.port
    )


if __name__ == "__main__":
    main()
