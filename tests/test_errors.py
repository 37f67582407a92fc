"""Errors are born whole: built once, from the response or failure they are
about, with the key masked in every text, and chained only to what holds no
secret. What is raised is what was built (`crowdtwist_async._errors`)."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

pytestmark = pytest.mark.anyio

KEY = "sk-live+Zq8/vN3="
ENCODED = quote_plus(KEY)
HISTORY = "/v2.2/users/1001/redemption_history"


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(seed=0, api_key=KEY)


@pytest.fixture
async def session(fake: FakeCrowdTwist) -> AsyncIterator[ct.Session]:
    async with ct.Session(
        api_key=KEY, base_url=fake.base_url, transport=fake.transport(), max_retries=0
    ) as session:
        yield session


def shown(error: BaseException) -> str:
    """Everything a traceback of *error* prints, its chain included."""
    return "".join(traceback.format_exception(error))


async def test_an_error_page_echoing_the_key_is_masked_in_every_field(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    fake.script(
        400,
        json={"error": f"bad_{KEY}", "message": f"no such thing: /x?api_key={ENCODED}"},
        headers={"X-Request-Id": f"req-{KEY}"},
    )
    with pytest.raises(ct.BadRequestError) as caught:
        await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
    error = caught.value
    assert error.status_code == 400
    assert error.error == "bad_***"
    assert error.message == "no such thing: /x?api_key=***"
    assert error.request_id == "req-***"
    assert KEY not in error.body
    assert ENCODED not in error.body
    assert error.args == ("no such thing: /x?api_key=***",)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert KEY not in shown(error)
    assert ENCODED not in shown(error)


async def test_a_body_that_is_not_json_is_raised_with_nothing_chained(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    fake.script(200, body=f"<html>proxy says {KEY}</html>")
    with pytest.raises(ct.ResponseDecodeError) as caught:
        await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
    error = caught.value
    assert error.status_code == 200
    assert error.body == "<html>proxy says ***</html>"
    # The JSON decoder's error (which holds the whole body) is not even a
    # hidden __context__: the error was made outside the block that saw it.
    assert error.__context__ is None
    assert error.__cause__ is None


async def test_a_record_that_does_not_fit_gets_the_response_and_keeps_its_cause(
    session: ct.Session,
) -> None:
    class Refused(Exception):
        pass

    def structure(record: Any) -> Any:
        raise Refused(f"cannot use record {record['id']}")

    listing = session.paginate(HISTORY, items="redemptions", structure=structure, page_size=10)
    with pytest.raises(ct.ResponseDecodeError) as caught:
        [item async for item in listing]
    error = caught.value
    # Built where the response is known: its status and body are there, and
    # the field and record of the structuring failure.
    assert error.status_code == 200
    assert error.body.startswith('{"paging"')
    assert error.field == "redemptions[0]"
    assert error.record_id is not None
    assert error.message.startswith("invalid page 1: redemptions[0]: structure raised Refused")
    assert isinstance(error.__cause__, Refused)
    assert error.__context__ is None


async def test_a_cause_that_shows_the_key_is_not_chained(session: ct.Session) -> None:
    def structure(record: Any) -> Any:
        raise ValueError(f"while fetching /x?api_key={KEY}")

    listing = session.paginate(HISTORY, items="redemptions", structure=structure, page_size=10)
    with pytest.raises(ct.ResponseDecodeError) as caught:
        [item async for item in listing]
    error = caught.value
    assert error.__cause__ is None
    assert error.__context__ is None
    assert "api_key=***" in error.message
    assert KEY not in shown(error)


async def test_a_reward_echoing_the_key_is_masked_in_the_decode_error(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    fake.script(
        json={"paging": {"total": 1, "pages": 1}, "rewards": [{"id": KEY, "num_points": "x"}]}
    )
    with pytest.raises(ct.ResponseDecodeError) as caught:
        await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email")
    error = caught.value
    assert error.status_code == 200
    assert error.record_id == "***"
    assert KEY not in shown(error)
    assert ENCODED not in shown(error)
    assert KEY not in repr(error)


async def test_a_connection_failure_is_raised_with_nothing_chained() -> None:
    class Refusing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise OSError(f"refused: {request.url}")

    async with ct.Session(
        api_key=KEY, base_url="https://x.test", transport=Refusing(), max_retries=0
    ) as session:
        with pytest.raises(ct.APIConnectionError) as caught:
            await session.users.usable_coupons("alice")
    error = caught.value
    assert error.message.startswith("GET /v2/users/alice/usable_coupons failed: OSError: refused")
    assert "api_key=***" in error.message
    assert error.__cause__ is None
    assert error.__context__ is None
    assert KEY not in shown(error)
    assert ENCODED not in shown(error)
