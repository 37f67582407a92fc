"""The retry rule of writes: a write is sent again only when CrowdTwist cannot
have carried it out, and every error raised for one says whether it may have.

Each test counts what reached the fake (`fake.requests`, `fake.cancelled`) and
what the fake's state became, so "sent once" is observed, not assumed.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist, set_testing

from .conftest import ALICE, requested
from .sample_data import API_KEY

pytestmark = pytest.mark.anyio

BASE_URL = "https://api123.crowdtwist.com"


@pytest.fixture(autouse=True)
def no_waits() -> Any:
    with set_testing(True):
        yield


def posts(fake: FakeCrowdTwist) -> list[str]:
    """The paths of the POSTs the fake answered."""
    return [r.path for r in fake.requests if r.method == "POST"]


def affordable_reward(fake: FakeCrowdTwist) -> dict[str, Any]:
    """A reward of alice's she has the points for, in stock."""
    alice = fake.users[0]
    for record in alice.rewards:
        cost = int(record["num_points"])
        if cost <= alice.points and int(record["current_quantity"]) > 0 and record["is_enabled"]:
            return record
    raise AssertionError("alice can afford none of her rewards")


class Failing(httpx.AsyncBaseTransport):
    """Raises *error* for the first *times* requests, then hands each to *inner*."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        error: Callable[[httpx.Request], Exception],
        times: int,
    ) -> None:
        self.inner = inner
        self.error = error
        self.left = times
        self.seen = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.left:
            self.left -= 1
            raise self.error(request)
        return await self.inner.handle_async_request(request)


def session_over(transport: httpx.AsyncBaseTransport, **options: Any) -> ct.Session:
    return ct.Session(api_key=API_KEY, base_url=BASE_URL, transport=transport, **options)


async def test_a_write_dropped_after_it_was_sent_is_one_request_and_a_clear_error(
    fake: FakeCrowdTwist,
) -> None:
    alice = fake.users[0]
    reward = affordable_reward(fake)
    before = alice.points
    # The real answer (the redemption is made), then the connection drops.
    fake.script(reset_after=0, path="*/redemption")
    async with session_over(fake.transport()) as session:
        with pytest.raises(ct.WriteNotConfirmedError) as caught:
            await session.users.redeem(ALICE, reward_id=reward["id"])
    error = caught.value
    assert isinstance(error, ct.APIConnectionError)
    assert error.write_unconfirmed is True
    assert (error.method, error.timed_out) == ("POST", False)
    assert "may or may not have carried it out" in str(error)
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error)
    assert posts(fake) == [f"/v2/users/{ALICE}/redemption"]
    # It did happen, once: exactly why the SDK must not send it again.
    assert alice.points == before - int(reward["num_points"])


async def test_the_same_fault_on_a_read_is_retried(fake: FakeCrowdTwist) -> None:
    fake.script(reset_after=0, path="*/points")
    async with session_over(fake.transport()) as session:
        points = await session.users.get_points(ALICE)
    assert points.redeemable_points == fake.users[0].points
    assert [r.path for r in fake.requests] == [f"/v2/users/{ALICE}/points"] * 2


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(lambda r: httpx.ConnectError("refused", request=r), id="ConnectError"),
        pytest.param(lambda r: httpx.ConnectTimeout("connect", request=r), id="ConnectTimeout"),
        pytest.param(lambda r: httpx.PoolTimeout("pool", request=r), id="PoolTimeout"),
        pytest.param(lambda r: httpx.ProxyError("proxy refused", request=r), id="ProxyError"),
    ],
)
async def test_a_write_whose_connection_was_never_made_is_retried(
    fake: FakeCrowdTwist, error: Callable[[httpx.Request], Exception]
) -> None:
    transport = Failing(fake.transport(), error, times=2)
    async with session_over(transport, max_retries=2) as session:
        credit = await session.users.credit_activity(ALICE, activity_id=_activity_id(fake))
    assert credit.awarded is True
    assert transport.seen == 3
    assert posts(fake) == [f"/v2/users/{ALICE}/activities"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(
            lambda r: httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=r
            ),
            # A keep-alive connection the server had closed: bytes may have left.
            id="stale-keepalive",
        ),
        pytest.param(lambda r: httpx.WriteError("broken pipe", request=r), id="WriteError"),
        pytest.param(lambda r: httpx.ReadError("reset by peer", request=r), id="ReadError"),
        pytest.param(lambda r: httpx.ReadTimeout("read", request=r), id="ReadTimeout"),
        pytest.param(lambda r: httpx.WriteTimeout("write", request=r), id="WriteTimeout"),
    ],
)
async def test_a_write_that_may_have_been_sent_is_not_retried(
    fake: FakeCrowdTwist, error: Callable[[httpx.Request], Exception]
) -> None:
    transport = Failing(fake.transport(), error, times=1)
    async with session_over(transport, max_retries=3) as session:
        with pytest.raises(ct.WriteNotConfirmedError) as caught:
            await session.post_json("/v2/coupon/use", json={"coupon_value": "SAVE10"})
    assert transport.seen == 1
    assert caught.value.timed_out is isinstance(
        error(httpx.Request("GET", "/")), httpx.TimeoutException
    )
    assert caught.value.method == "POST"
    assert "SAVE10" not in str(caught.value)


async def test_a_429_on_a_write_is_retried(fake: FakeCrowdTwist) -> None:
    alice = fake.users[0]
    reward = affordable_reward(fake)
    history = len(alice.redemptions)
    fake.script(429, path="*/redemption", headers={"Retry-After": "0"})
    async with session_over(fake.transport()) as session:
        result = await session.users.redeem(ALICE, reward_id=reward["id"])
    assert posts(fake) == [f"/v2/users/{ALICE}/redemption"] * 2
    assert len(alice.redemptions) == history + 1
    assert result.ending_balance == alice.points


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_server_error_on_a_write_is_raised_at_once_and_unconfirmed(
    fake: FakeCrowdTwist, status: int
) -> None:
    fake.script(status, path="*/activities", json={"error": "internal_error", "message": "oops"})
    async with session_over(fake.transport(), max_retries=3) as session:
        with pytest.raises(ct.APIError) as caught:
            await session.users.credit_activity(ALICE, activity_id=_activity_id(fake))
    assert caught.value.status_code == status
    assert caught.value.error == "internal_error"
    assert caught.value.write_unconfirmed is True
    assert requested(fake) == 1
    # The same status on a read is retried, as ever.
    fake.script(status, path="*/points")
    async with session_over(fake.transport(), max_retries=3) as session:
        await session.users.get_points(ALICE)
    assert requested(fake) == 3


async def test_a_refusal_is_confirmed_not_carried_out(fake: FakeCrowdTwist) -> None:
    carol = fake.users[2]  # no points
    reward = fake.catalog[0]
    async with session_over(fake.transport()) as session:
        with pytest.raises(ct.RefusedError) as caught:
            await session.users.redeem(carol.id, reward_id=reward["id"])
    error = caught.value
    assert (error.status_code, error.error) == (403, "insufficient_points")
    assert error.write_unconfirmed is False
    assert not isinstance(error, ct.AuthenticationError)
    assert requested(fake) == 1


async def test_a_write_that_times_out_after_it_was_sent_is_unconfirmed(
    fake: FakeCrowdTwist,
) -> None:
    fake.script(delay=30.0, path="/v2/coupon/use")
    async with session_over(fake.transport(), timeout=0.5, max_retries=3) as session:
        with pytest.raises(ct.WriteNotConfirmedError) as caught:
            await session.coupons.use("SAVE10")
    assert caught.value.timed_out is True
    assert requested(fake) == 1
    assert [r.path for r in fake.cancelled] == ["/v2/coupon/use"]


async def test_a_body_that_is_not_json_is_refused_before_any_request(
    fake: FakeCrowdTwist,
) -> None:
    async with session_over(fake.transport()) as session:
        with pytest.raises(TypeError, match="not JSON"):
            await session.post_json("/v2/coupon/use", json={"when": object()})
        with pytest.raises(TypeError, match="not JSON"):
            await session.post_json("/v2/coupon/use", json={"n": float("nan")})
    assert requested(fake) == 0


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_on_a_port_a_dropped_write_is_not_retried_and_a_dropped_read_is(
    anyio_backend: str,
) -> None:
    fake = FakeCrowdTwist(api_key=API_KEY)
    reward = affordable_reward(fake)
    backends = ["httpx", "aiohttp"] if anyio_backend == "asyncio" else ["httpx"]
    with fake.serve() as url:
        for backend in backends:
            fake.requests.clear()
            fake.script(reset_after=0, path="*/redemption")
            fake.script(reset_after=0, path="*/points")
            async with ct.Session(
                api_key=API_KEY,
                base_url=url,
                http_backend=backend,  # type: ignore[arg-type]
            ) as session:
                with pytest.raises(ct.WriteNotConfirmedError):
                    await session.users.redeem(ALICE, reward_id=reward["id"])
                await session.users.get_points(ALICE)
            assert [(r.method, r.path) for r in fake.requests] == [
                ("POST", f"/v2/users/{ALICE}/redemption"),
                ("GET", f"/v2/users/{ALICE}/points"),
                ("GET", f"/v2/users/{ALICE}/points"),
            ], backend


def _activity_id(fake: FakeCrowdTwist) -> str:
    """An activity id of the fake's catalogue."""
    return next(iter(fake.activity_catalog))


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_refused_connection_proves_nothing_was_sent_on_every_stack(
    anyio_backend: str,
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backends = ["httpx", "aiohttp"] if anyio_backend == "asyncio" else ["httpx"]
    for backend in backends:
        async with ct.Session(
            api_key=API_KEY,
            base_url=f"http://127.0.0.1:{port}",
            http_backend=backend,  # type: ignore[arg-type]
            max_retries=1,
        ) as session:
            with pytest.raises(ct.APIConnectionError) as caught:
                await session.coupons.use("SAVE10")
        # Retried, then raised as the connection error it is: not "may have happened".
        assert not isinstance(caught.value, ct.WriteNotConfirmedError), backend
        assert caught.value.write_unconfirmed is False, backend
        assert "ConnectError" in str(caught.value), backend
