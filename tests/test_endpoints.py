"""What `session.users` sends, what it checks first, and what it returns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import respx

import crowdtwist_async as ct

from .conftest import API_KEY, BASE_URL
from .sample_data import SAMPLES

pytestmark = pytest.mark.anyio

EMPTY_PAGE = {"paging": {"total": 0, "pages": 0}, "rewards": []}


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def session() -> Any:
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=0) as session:
        yield session


def raw_path(request: httpx.Request) -> str:
    return request.url.raw_path.decode().split("?")[0]


@pytest.mark.parametrize(
    ("user_id", "path"),
    [
        pytest.param("alice@example.com", "/v2.1/users/alice@example.com/rewards", id="email"),
        pytest.param("al+ice@example.com", "/v2.1/users/al%2Bice@example.com/rewards", id="plus"),
        pytest.param("../admin", "/v2.1/users/..%2Fadmin/rewards", id="traversal"),
        pytest.param("..", "/v2.1/users/%2E%2E/rewards", id="dot-dot"),
        pytest.param("a?b#c", "/v2.1/users/a%3Fb%23c/rewards", id="query-fragment"),
        pytest.param(98765, "/v2.1/users/98765/rewards", id="int"),
    ],
)
async def test_user_id_is_one_path_segment(
    router: respx.MockRouter, session: ct.Session, user_id: str | int, path: str
) -> None:
    route = router.route(method="GET").respond(json=EMPTY_PAGE)
    await session.users.get_rewards_page(user_id)
    assert raw_path(route.calls.last.request) == path


async def test_rewards_query_parameters(router: respx.MockRouter, session: ct.Session) -> None:
    route = router.get("/v2.1/users/alice@example.com/rewards").respond(json=EMPTY_PAGE)
    await session.users.get_rewards_page(
        "alice@example.com", page=3, id_type="email", page_size=5, include_soldout=True
    )
    assert dict(route.calls.last.request.url.params) == {
        "id_type": "email",
        "page_size": "5",
        "include_soldout": "true",
        "page": "3",
        "api_key": API_KEY,
    }
    await session.users.get_rewards_page("alice@example.com")
    # The server's defaults apply to whatever was not given.
    assert dict(route.calls.last.request.url.params) == {"page": "1", "api_key": API_KEY}


async def test_coupons_query_parameters(router: respx.MockRouter, session: ct.Session) -> None:
    route = router.get("/v2/users/bob/usable_coupons").respond(json=[])
    assert await session.users.usable_coupons("bob") == ()
    assert dict(route.calls.last.request.url.params) == {"api_key": API_KEY}
    await session.users.usable_coupons("bob", id_type=ct.IdType.USERNAME, expired=False)
    assert dict(route.calls.last.request.url.params) == {
        "id_type": "username",
        "expired": "false",
        "api_key": API_KEY,
    }
    await session.users.usable_coupons("bob", expired=True)
    assert route.calls.last.request.url.params["expired"] == "true"


Call = Callable[[ct.Session], Any]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        pytest.param(
            lambda s: s.users.aiter_rewards("a", page_size=11),
            ValueError,
            "page_size must be between 1 and 10, got 11",
            id="page-size-high",
        ),
        pytest.param(
            lambda s: s.users.aiter_rewards("a", page_size=0),
            ValueError,
            "page_size",
            id="page-size-zero",
        ),
        pytest.param(
            lambda s: s.users.aiter_reward_pages("a", max_concurrency=0),
            ValueError,
            "max_concurrency must be at least 1",
            id="concurrency",
        ),
        pytest.param(
            lambda s: s.users.aiter_rewards("a", id_type="phone"),
            ValueError,
            "id_type must be one of",
            id="id-type",
        ),
        pytest.param(
            lambda s: s.users.aiter_rewards("a", include_soldout="yes"),
            TypeError,
            "include_soldout must be a bool",
            id="soldout",
        ),
        pytest.param(lambda s: s.users.aiter_rewards(""), ValueError, "user_id", id="empty-user"),
        pytest.param(
            lambda s: s.users.get_rewards_page("a", page=0),
            ValueError,
            "page must be at least 1",
            id="page-zero",
        ),
        pytest.param(
            lambda s: s.users.usable_coupons("a", id_type="mobile_phone_number"),
            ValueError,
            "id_type must be one of email, facebook_user_id, id, third_party_id, twitter_user_id, username",
            id="coupons-phone",
        ),
        pytest.param(
            lambda s: s.users.usable_coupons("a", expired="false"),
            TypeError,
            "expired must be a bool",
            id="expired",
        ),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    router: respx.MockRouter, session: ct.Session, call: Call, error: type[Exception], match: str
) -> None:
    route = router.route().respond(json=EMPTY_PAGE)
    with pytest.raises(error, match=match):
        result = call(session)
        # Coroutine methods raise when awaited; listings when called.
        if hasattr(result, "__await__"):
            await result
    assert not route.called


async def test_mobile_phone_number_is_allowed_for_rewards(
    router: respx.MockRouter, session: ct.Session
) -> None:
    route = router.route().respond(json=EMPTY_PAGE)
    await session.users.get_rewards_page("+15550100", id_type="mobile_phone_number")
    assert route.calls.last.request.url.params["id_type"] == "mobile_phone_number"


async def test_get_rewards_page_reads_the_docs_sample(
    router: respx.MockRouter, session: ct.Session
) -> None:
    router.route().respond(content=(SAMPLES / "rewards_sample.json").read_bytes())
    page = await session.users.get_rewards_page("test@test.com", page=1, id_type="email")
    assert (page.number, page.total, page.pages, page.next_page, page.prev_page) == (
        1,
        133,
        14,
        2,
        21,
    )
    (reward,) = page.rewards
    assert reward.id == "541043"
    assert reward.date_start == datetime(2014, 6, 6, 12, 31, tzinfo=timezone.utc)
    assert reward.is_min_age_required is False
    assert reward.is_phone_number_required is True


async def test_usable_coupons_reads_the_docs_sample(
    router: respx.MockRouter, session: ct.Session
) -> None:
    router.route().respond(content=(SAMPLES / "coupons_array.json").read_bytes())
    coupons = await session.users.usable_coupons("alice@crowdtwist.com", id_type="email")
    assert [c.code for c in coupons] == ["ACC58191285", "ACC58111301"]
    assert coupons[0].redeem_order_id == 28184278
    assert coupons[0].redeem_order_coupon_id == 17298195
    assert coupons[0].date_to_expire == datetime.fromtimestamp(1479450627, tz=timezone.utc)


async def test_usable_coupons_wrapped_in_an_object(
    router: respx.MockRouter, session: ct.Session
) -> None:
    coupons = json.loads((SAMPLES / "coupons_array.json").read_text())
    router.route().respond(json={"usable_coupons": coupons})
    assert len(await session.users.usable_coupons("alice")) == 2


async def test_usable_coupons_invalid_json_sample_is_a_decode_error(
    router: respx.MockRouter, session: ct.Session
) -> None:
    router.route().respond(content=(SAMPLES / "coupons_sample.txt").read_bytes())
    with pytest.raises(ct.ResponseDecodeError) as info:
        await session.users.usable_coupons("alice")
    assert info.value.status_code == 200
    # The sample as printed: an object of bare objects (and, in the docs, NBSPs).
    assert info.value.body.startswith("{\n\xa0 {\n")


async def test_no_activities_is_no_coupons(router: respx.MockRouter, session: ct.Session) -> None:
    router.route().respond(
        400,
        json={"error": "no_activities", "message": "There are no rewards available to this user."},
    )
    assert await session.users.usable_coupons("alice") == ()


async def test_unknown_user_is_not_found(router: respx.MockRouter, session: ct.Session) -> None:
    router.route().respond(
        content=(SAMPLES / "error_page_not_found.json").read_bytes(), status_code=400
    )
    with pytest.raises(ct.NotFoundError) as info:
        await session.users.usable_coupons("nobody")
    assert (info.value.status_code, info.value.error, info.value.message) == (
        400,
        "page_not_found",
        "User does not exist.",
    )
    with pytest.raises(ct.NotFoundError):
        async for _ in session.users.aiter_rewards("nobody"):
            pass


async def test_a_bad_record_names_the_field_and_the_record(
    router: respx.MockRouter, session: ct.Session
) -> None:
    body = json.loads((SAMPLES / "rewards_sample.json").read_text())
    body["is_enabled"] = "maybe"
    router.route().respond(json=body)
    with pytest.raises(ct.ResponseDecodeError) as info:
        await session.users.get_rewards_page("alice")
    assert info.value.field == "is_enabled"
    assert info.value.record_id == "541043"
    assert "is_enabled" in str(info.value)
    assert "541043" in str(info.value)


async def test_a_bad_record_keeps_the_response_status_and_body(
    router: respx.MockRouter, session: ct.Session
) -> None:
    coupons = json.loads((SAMPLES / "coupons_array.json").read_text())
    del coupons[1]["code"]
    router.route().respond(201, json=coupons)
    with pytest.raises(ct.ResponseDecodeError) as info:
        await session.users.usable_coupons("alice")
    assert info.value.status_code == 201
    assert info.value.field == "code"
    assert info.value.record_id == "17298198"
    assert info.value.body.startswith('[{"reward_id":127819')


async def test_to_dict_writes_a_model_as_the_api_does(
    router: respx.MockRouter, session: ct.Session
) -> None:
    sample = json.loads((SAMPLES / "rewards_sample.json").read_text())
    route = router.get("/v2.1/users/alice/rewards").respond(json=sample)
    page = await session.users.get_rewards_page("alice")
    (reward,) = page.rewards
    data = ct.to_dict(reward)
    assert data["id"] == "541043"
    assert data["date_start"] == "2014-06-06T12:31:00+00:00"
    assert data["is_min_age_required"] is False
    assert data["segment"] == {
        "name": "5x login",
        "subscription_id": 123,
        "eligibility_type": "inclusion",
    }
    assert "freq_period_id" in data
    assert "freq_period" not in data
    assert "sweepstakes_winners" in data
    # What it writes, the SDK reads back unchanged.
    route.respond(json={"paging": {"total": 1, "pages": 1}, "rewards": [data]})
    assert (await session.users.get_rewards_page("alice")).rewards == (reward,)
    assert ct.to_dict(page)["rewards"] == [data]
    with pytest.raises(TypeError, match="to_dict takes a crowdtwist_async model"):
        ct.to_dict({"id": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda s: s.users.get_rewards_page("a", page=1.5),
            "page must be an int, got float",
            id="page-float",
        ),
        pytest.param(
            lambda s: s.users.get_rewards_page("a", page=True),
            "page must be an int, got bool",
            id="page-bool",
        ),
        pytest.param(
            lambda s: s.users.aiter_rewards("a", page_size="5"),
            "page_size must be an int, got str",
            id="page-size-str",
        ),
        pytest.param(
            lambda s: s.users.aiter_rewards("a", max_concurrency=2.0),
            "max_concurrency must be an int, got float",
            id="concurrency-float",
        ),
    ],
)
async def test_a_count_that_is_not_an_int_is_refused_by_name_and_type(
    router: respx.MockRouter, session: ct.Session, call: Call, message: str
) -> None:
    route = router.route().respond(json=EMPTY_PAGE)
    with pytest.raises(TypeError) as info:
        result = call(session)
        if hasattr(result, "__await__"):
            await result
    assert str(info.value) == message
    assert not route.called


async def test_an_empty_listing_page_keeps_the_number_asked_for(
    router: respx.MockRouter, session: ct.Session
) -> None:
    router.route().respond(400, json={"error": "no_data", "message": "There are no rewards."})
    page = await session.users.get_rewards_page("alice", page=3)
    assert page == ct.RewardsPage(
        number=3, total=0, pages=0, rewards=(), next_page=None, prev_page=None
    )


def test_to_dict_names_what_it_was_given() -> None:
    with pytest.raises(TypeError) as info:
        ct.to_dict({"id": 1})  # type: ignore[arg-type]
    assert str(info.value) == "to_dict takes a crowdtwist_async model, got dict"
