"""The engine for any CrowdTwist call: `get_json`, `paginate`, `start_page`,
`max_items`, `resume_page` and `auth=httpx.Auth`, against FakeCrowdTwist, on
asyncio and trio."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import attrs
import httpx
import pytest

import crowdtwist_async as ct

# Private on purpose: `test_record_id` pins the default de-duplication key's
# exact text for each kind of record; paginate's de-duplication and
# `ResponseDecodeError.record_id` show it only for the records they meet.
from crowdtwist_async._payload import record_id
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist, FakeUser

from .listing_support import session_on

pytestmark = pytest.mark.anyio

HISTORY = "/v2.2/users/1001/redemption_history"


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(seed=3)


@pytest.fixture
async def session(fake: FakeCrowdTwist) -> AsyncIterator[ct.Session]:
    async with session_on(fake) as session:
        yield session


@pytest.fixture(params=["plain", "entered"])
def form(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def drain(listing: ct.AsyncPaginator[Any], form: str) -> list[Any]:
    got = []
    async with listing if form == "entered" else contextlib.nullcontext():
        async for item in listing:
            got.append(item)
    return got


def user(fake: FakeCrowdTwist, id: int) -> FakeUser:
    return next(u for u in fake.users if u.id == id)


def history_ids(fake: FakeCrowdTwist, id: int = 1001) -> list[str]:
    """The user's redemption ids as the API lists them: newest first, stable."""
    records = sorted(user(fake, id).redemptions, key=lambda r: -int(r["date_redeemed"]))
    return [str(r["id"]) for r in records]


async def all_reward_ids(session: ct.Session) -> list[str]:
    return [r.id async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")]


def pages_asked(fake: FakeCrowdTwist) -> list[int]:
    """The pages asked for, in the order the fake answered them."""
    pages = [r.page for r in fake.requests]
    assert None not in pages
    return [page for page in pages if page is not None]


# --- get_json -------------------------------------------------------------------


async def test_get_json_returns_the_decoded_body(session: ct.Session, fake: FakeCrowdTwist) -> None:
    path = f"/v2/users/{quote(SANDBOX_EMAIL, safe='')}/usable_coupons"
    data = await session.get_json(path, params={"id_type": "email", "expired": False})

    usable = [c.record for c in user(fake, 1001).coupons if not c.used]
    unexpired = [r for r in usable if r in data]
    assert data == unexpired
    assert len(data) == 3
    [request] = fake.requests
    assert request.path == "/v2/users/alice%40example.com/usable_coupons"
    assert request.params == {"id_type": "email", "expired": "false"}
    assert request.status == 200


async def test_get_json_keeps_encoded_segments(session: ct.Session, fake: FakeCrowdTwist) -> None:
    odd = fake.add_user(username="a/b c?d")
    fake.add_coupon(odd, code="ODD-1")
    path = f"/v2/users/{quote('a/b c?d', safe='')}/usable_coupons"
    data = await session.get_json(path, params={"id_type": "username"})

    assert [c["code"] for c in data] == ["ODD-1"]
    assert fake.requests[0].path == "/v2/users/a%2Fb%20c%3Fd/usable_coupons"


async def test_get_json_sends_ints_and_bools_as_the_api_reads_them(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    await session.get_json(
        "/v2.1/users/1001/rewards", params={"page": 2, "include_soldout": True, "x": "y z"}
    )
    assert fake.requests[0].params == {"page": "2", "include_soldout": "true", "x": "y z"}
    assert fake.requests[0].page == 2


async def test_get_json_raises_no_data_as_the_error_it_is(session: ct.Session) -> None:
    with pytest.raises(ct.BadRequestError) as caught:
        await session.get_json("/v2.1/users/1003/rewards")
    assert caught.value.error == "no_data"
    assert caught.value.status_code == 400


async def test_get_json_unknown_path_is_not_found(session: ct.Session) -> None:
    with pytest.raises(ct.NotFoundError) as caught:
        await session.get_json("/v2/nothing/here")
    assert caught.value.status_code == 404
    assert caught.value.error == "page_not_found"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("https://evil.example/v2/users", "path must start with a single '/'"),
        ("//evil.example/v2/users", "path must start with a single '/'"),
        ("v2/users/1001/points", "path must start with a single '/'"),
        ("", "path must start with a single '/'"),
        ("/v2/users/1001/points?id_type=id", "path must not hold '?': pass query parameters"),
        ("/v2/users/1001/points#x", "path must not hold '#'"),
        ("/v2/users/../admin", "path must not have a '.' or '..' segment"),
        ("/v2/users/./1001", "path must not have a '.' or '..' segment"),
        ("/v2/users/a b/points", "path must be percent-encoded: ' ' at index 11"),
        ("/v2/users/50%/points", "path must be percent-encoded: '%' at index 12"),
        ("/v2/users/é/points", "path must be percent-encoded: 'é' at index 10"),
    ],
)
async def test_get_json_refuses_a_bad_path_before_any_request(
    session: ct.Session, fake: FakeCrowdTwist, path: str, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("?", r"\?").replace(".", r"\.")):
        await session.get_json(path)
    with pytest.raises(ValueError, match="^" + message.replace("?", r"\?").replace(".", r"\.")):
        session.paginate(path, items="rewards")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"api_key": "x"}, ValueError, "params must not set 'api_key': the session sends"),
        (
            {"page_size": 5.0},
            TypeError,
            "params['page_size'] must be a str, int or bool, got float",
        ),
        ({"x": None}, TypeError, "params['x'] must be a str, int or bool, got NoneType"),
        ({1: "x"}, TypeError, "params names must be non-empty str, got 1"),
        ({"": "x"}, TypeError, "params names must be non-empty str, got ''"),
        ([("a", "b")], TypeError, "params must be a mapping of names to values, got list"),
    ],
)
async def test_get_json_refuses_bad_params_before_any_request(
    session: ct.Session, fake: FakeCrowdTwist, params: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        await session.get_json("/v2/users/1001/points", params=params)
    assert str(caught.value) == message or str(caught.value).startswith(message)
    assert fake.requests == []


async def test_get_json_with_the_key_in_a_header(fake: FakeCrowdTwist) -> None:
    async with ct.Session(
        api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport(), auth="header"
    ) as session:
        page = await session.get_json("/v2.1/users/1001/rewards", params={"page": 21})
    assert page["paging"]["total"] == 203
    assert len(page["rewards"]) == 3


# --- paginate ---------------------------------------------------------------------


async def test_paginate_reads_another_listing_whole(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.paginate(HISTORY, items="redemptions", page_size=10, max_concurrency=4)
    got = await drain(listing, form)

    assert [str(item["id"]) for item in got] == history_ids(fake)
    assert len(got) == 37
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4]
    assert {tuple(sorted(r.params.items())) for r in fake.requests} == {
        (("page", str(n)), ("page_size", "10")) for n in range(1, 5)
    }
    assert all(type(item) is MappingProxyType for item in got)
    with pytest.raises(TypeError):
        got[0]["points"] = 0
    assert listing.page_count == 4
    assert listing.resume_page is None


async def test_paginate_passes_params_and_filters(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    start = "2026-01-01"
    listing = session.paginate(HISTORY, items="redemptions", params={"date_start": start})
    got = [item async for item in listing]

    cutoff = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    wanted = [i for i in history_ids(fake) if i in _ids_since(fake, cutoff)]
    assert [str(item["id"]) for item in got] == wanted
    assert all(r.params["date_start"] == start for r in fake.requests)


def _ids_since(fake: FakeCrowdTwist, cutoff: int) -> set[str]:
    return {str(r["id"]) for r in user(fake, 1001).redemptions if int(r["date_redeemed"]) >= cutoff}


@attrs.frozen
class Redemption:
    id: int
    points: int


def build_redemption(raw: Mapping[str, Any]) -> Redemption:
    return Redemption(id=int(raw["id"]), points=int(raw["points"]))


async def test_paginate_structures_items_and_takes_a_key(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    keys: list[int] = []

    def key(item: Redemption) -> int:
        keys.append(item.id)
        return item.id

    listing = session.paginate(
        HISTORY, items="redemptions", structure=build_redemption, key=key, max_concurrency=2
    )
    got = await drain(listing, form)

    assert [r.id for r in got] == [int(i) for i in history_ids(fake)]
    assert all(isinstance(r, Redemption) for r in got)
    assert keys == [r.id for r in got]


def scripted_page(ids: list[Any], *, number: int, total: int, pages: int) -> dict[str, Any]:
    link = "https://api[client_id].ct.com/v2.2/redemption_history?page={}&api_key="
    return {
        "paging": {
            "total": total,
            "pages": pages,
            "next_page": link.format(number + 1) if number < pages else None,
            "prev_page": link.format(number - 1) if number > 1 else None,
        },
        "redemptions": [{"id": i, "points": 10} for i in ids],
    }


async def test_paginate_default_key_is_the_id_as_text(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    # The record that shifted onto page 2 comes back with its id as a string.
    fake.script(json=scripted_page([1, 2, 3], number=1, total=5, pages=2), page=1)
    fake.script(json=scripted_page(["3", 4, 5], number=2, total=5, pages=2), page=2)
    got = [item async for item in session.paginate(HISTORY, items="redemptions", page_size=3)]
    assert [item["id"] for item in got] == [1, 2, 3, 4, 5]


async def test_paginate_items_without_an_id_are_never_repeats(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    page = scripted_page([1, 2], number=1, total=2, pages=1)
    for item in page["redemptions"]:
        del item["id"]
    fake.script(json=page, page=1)
    got = [item async for item in session.paginate(HISTORY, items="redemptions")]
    assert got == [{"points": 10}, {"points": 10}]


async def test_paginate_key_none_turns_de_duplication_off(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    fake.script(json=scripted_page([7, 7], number=1, total=2, pages=1), page=1)
    listing = session.paginate(HISTORY, items="redemptions", key=lambda item: None)
    assert [item["id"] async for item in listing] == [7, 7]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": 5000123}, "5000123"),
        ({"id": "5000123"}, "5000123"),
        ({"id": " 5000123 "}, "5000123"),
        ({"id": ""}, None),
        ({"id": True}, None),
        ({"id": 1.5}, None),
        ({"id": None}, None),
        ({}, None),
        (Redemption(id=9, points=1), "9"),
        (object(), None),
    ],
)
def test_record_id(value: object, expected: str | None) -> None:
    assert record_id(value) == expected


async def test_paginate_no_data_is_an_empty_listing(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.paginate("/v2.2/users/1003/redemption_history", items="redemptions")
    assert await drain(listing, form) == []
    assert pages_asked(fake) == [1]
    assert listing.resume_page is None


async def test_paginate_a_wrong_items_name_is_an_error_not_an_empty_listing(
    session: ct.Session,
) -> None:
    listing = session.paginate(HISTORY, items="redemption")
    with pytest.raises(ct.ResponseDecodeError) as caught:
        [item async for item in listing]
    assert str(caught.value) == (
        "invalid page 1: no 'redemption' in it (its keys: 'paging', 'redemptions'); "
        "check the items= of the listing"
    )
    assert caught.value.field == "redemption"
    assert caught.value.status_code == 200


async def test_paginate_a_structure_error_names_the_item(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    page = scripted_page([1, 2, 3], number=1, total=3, pages=1)
    del page["redemptions"][2]["points"]
    fake.script(json=page, page=1)
    listing = session.paginate(HISTORY, items="redemptions", structure=build_redemption)
    with pytest.raises(ct.ResponseDecodeError) as caught:
        [item async for item in listing]
    assert (
        str(caught.value) == "invalid page 1: redemptions[2]: structure raised KeyError: 'points'"
    )
    assert caught.value.field == "redemptions[2]"
    assert caught.value.record_id == "3"
    assert isinstance(caught.value.__cause__, KeyError)


async def test_paginate_a_short_listing_raises(session: ct.Session, fake: FakeCrowdTwist) -> None:
    fake.script(json={"paging": {"total": 37, "pages": 4}, "redemptions": []}, page=3)
    got: list[Any] = []
    with pytest.raises(ct.IncompleteListingError) as caught:
        async for item in session.paginate(HISTORY, items="redemptions", max_concurrency=1):
            got.append(item)
    assert len(got) == 20
    assert str(caught.value) == (
        "the listing ended short: page 3 was empty, after 20 of the 37 items page 1 "
        "announced; read it again"
    )
    assert (caught.value.page, caught.value.expected_total, caught.value.seen) == (3, 37, 20)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"items": ""}, ValueError, "items must name the list in each page"),
        ({"items": 3}, TypeError, "items must be a str, got int"),
        ({"items": "r", "params": {"page": 2}}, ValueError, "params must not set 'page'"),
        ({"items": "r", "params": {"page_size": 2}}, ValueError, "params must not set 'page_size'"),
        ({"items": "r", "page_size": 0}, ValueError, "page_size must be at least 1, got 0"),
        ({"items": "r", "start_page": 0}, ValueError, "start_page must be at least 1, got 0"),
        ({"items": "r", "start_page": "2"}, TypeError, "start_page must be an int, got str"),
        ({"items": "r", "max_items": 0}, ValueError, "max_items must be at least 1, got 0"),
        ({"items": "r", "max_concurrency": 0}, ValueError, "max_concurrency must be at least 1"),
        ({"items": "r", "structure": "x"}, TypeError, "structure must be callable or None"),
        ({"items": "r", "key": 3}, TypeError, "key must be callable or None, got int"),
    ],
)
async def test_paginate_checks_arguments_before_any_request(
    session: ct.Session,
    fake: FakeCrowdTwist,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error) as caught:
        session.paginate(HISTORY, **kwargs)
    assert str(caught.value).startswith(message)
    assert fake.requests == []


# --- max_items ----------------------------------------------------------------------


async def test_max_items_never_asks_for_a_page_it_cannot_use(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    everything = await all_reward_ids(session)
    fake.requests.clear()
    listing = session.users.aiter_rewards(
        SANDBOX_EMAIL, id_type="email", page_size=10, max_concurrency=8, max_items=25
    )
    got = await drain(listing, form)

    assert [r.id for r in got] == everything[:25]
    assert sorted(pages_asked(fake)) == [1, 2, 3]
    # 5 of page 3's rewards were yielded: going on starts there.
    assert listing.resume_page == 3


async def test_max_items_on_a_page_boundary(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.users.aiter_rewards(
        SANDBOX_EMAIL, id_type="email", max_concurrency=8, max_items=20
    )
    assert len(await drain(listing, form)) == 20
    assert sorted(pages_asked(fake)) == [1, 2]
    assert listing.resume_page == 3


async def test_max_items_cuts_the_last_page_of_a_page_listing(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.users.aiter_reward_pages(
        SANDBOX_EMAIL, id_type="email", max_concurrency=8, max_items=25
    )
    pages = await drain(listing, form)
    assert [(p.number, len(p.rewards)) for p in pages] == [(1, 10), (2, 10), (3, 5)]
    assert pages[2].total == 203
    assert sorted(pages_asked(fake)) == [1, 2, 3]


async def test_max_items_past_the_end_reads_everything(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.paginate(HISTORY, items="redemptions", max_items=500, max_concurrency=8)
    assert len(await drain(listing, form)) == 37
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4]
    assert listing.resume_page is None


async def test_max_items_makes_room_for_a_repeat(session: ct.Session, fake: FakeCrowdTwist) -> None:
    # Page 2 repeats one of page 1's records: only then is page 3 worth asking for.
    fake.script(json=scripted_page([1, 2, 3], number=1, total=9, pages=3), page=1)
    fake.script(json=scripted_page([3, 4, 5], number=2, total=9, pages=3), page=2)
    fake.script(json=scripted_page([6, 7, 8], number=3, total=9, pages=3), page=3)
    listing = session.paginate(
        HISTORY, items="redemptions", page_size=3, max_items=6, max_concurrency=8
    )
    assert [item["id"] async for item in listing] == [1, 2, 3, 4, 5, 6]
    assert pages_asked(fake) == [1, 2, 3]
    assert listing.resume_page == 3


async def test_max_items_without_a_repeat_stops_a_page_earlier(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    fake.script(json=scripted_page([1, 2, 3], number=1, total=9, pages=3), page=1)
    fake.script(json=scripted_page([4, 5, 6], number=2, total=9, pages=3), page=2)
    listing = session.paginate(
        HISTORY, items="redemptions", page_size=3, max_items=6, max_concurrency=8
    )
    assert [item["id"] async for item in listing] == [1, 2, 3, 4, 5, 6]
    assert pages_asked(fake) == [1, 2]
    assert listing.resume_page == 3


# --- start_page -------------------------------------------------------------------------


async def test_start_page_starts_the_walk_there(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    everything = await all_reward_ids(session)
    fake.requests.clear()
    listing = session.users.aiter_rewards(
        SANDBOX_EMAIL, id_type="email", start_page=5, max_concurrency=4
    )
    got = await drain(listing, form)

    assert [r.id for r in got] == everything[40:]
    assert pages_asked(fake)[0] == 5
    assert sorted(pages_asked(fake)) == list(range(5, 22))
    assert listing.resume_page is None


async def test_start_page_with_max_items(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    everything = await all_reward_ids(session)
    fake.requests.clear()
    listing = session.users.aiter_rewards(
        SANDBOX_EMAIL, id_type="email", start_page=5, max_items=25, max_concurrency=8
    )
    got = await drain(listing, form)
    assert [r.id for r in got] == everything[40:65]
    assert sorted(pages_asked(fake)) == [5, 6, 7]
    assert listing.resume_page == 7


async def test_start_page_past_the_end_is_empty(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.paginate(HISTORY, items="redemptions", start_page=9)
    assert await drain(listing, form) == []
    assert pages_asked(fake) == [9]
    assert listing.resume_page is None


async def test_start_page_checks_what_is_left(session: ct.Session, fake: FakeCrowdTwist) -> None:
    # 37 records from page 3 on leave 17; page 4 comes back empty.
    fake.script(json={"paging": {"total": 37, "pages": 4}, "redemptions": []}, page=4)
    got: list[Any] = []
    listing = session.paginate(HISTORY, items="redemptions", start_page=3)
    with pytest.raises(ct.IncompleteListingError) as caught:
        async for item in listing:
            got.append(item)
    assert len(got) == 10
    assert str(caught.value) == (
        "the listing ended short: page 4 was empty, after 10 of the 17 items page 3's total "
        "(37) leaves from there; read it again"
    )
    assert (caught.value.page, caught.value.expected_total, caught.value.seen) == (4, 17, 10)
    assert listing.resume_page == 4


async def test_rewards_start_page_is_checked_before_any_request(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    with pytest.raises(ValueError, match=r"^start_page must be at least 1, got 0$"):
        session.users.aiter_rewards(SANDBOX_EMAIL, start_page=0)
    with pytest.raises(ValueError, match=r"^max_items must be at least 1, got -1$"):
        session.users.aiter_reward_pages(SANDBOX_EMAIL, max_items=-1)
    assert fake.requests == []


# --- resume_page ------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [30, 25])
async def test_a_batch_job_goes_on_from_resume_page(
    session: ct.Session, fake: FakeCrowdTwist, chunk: int
) -> None:
    everything = await all_reward_ids(session)
    got: list[str] = []
    listings = 0
    page: int | None = 1
    while page is not None:
        listing = session.users.aiter_rewards(
            SANDBOX_EMAIL, id_type="email", start_page=page, max_items=chunk
        )
        got += [r.id async for r in listing]
        listings += 1
        page = listing.resume_page
    if chunk == 30:
        # Whole pages each time: nothing read twice.
        assert got == everything
        assert listings == 7
    else:
        # A cut page is read again from its start: listings start at pages
        # 1, 3, ..., 19, and each of the first 9 ends 5 rewards into a page.
        assert list(dict.fromkeys(got)) == everything
        assert listings == 10
        assert len(got) == 203 + 9 * 5


async def test_resume_page_follows_the_reader(session: ct.Session) -> None:
    listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email", start_page=2)
    assert listing.resume_page == 2
    seen = 0
    async for _ in listing:
        seen += 1
        if seen == 3:
            assert listing.resume_page == 2  # 7 of page 2 still to come
        if seen == 10:
            assert listing.resume_page == 3
            break
    assert listing.resume_page == 3


async def test_resume_page_after_an_error_is_the_failed_page(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    fake.script(404, json={"error": "page_not_found", "message": "gone"}, page=3)
    listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
    got: list[str] = []
    with pytest.raises(ct.NotFoundError):
        async for reward in listing:
            got.append(reward.id)
    assert len(got) == 20
    assert listing.resume_page == 3
    rest = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email", start_page=3)
    assert got + [r.id async for r in rest] == await all_reward_ids(session)


# --- auth=httpx.Auth ----------------------------------------------------------------------


class Signer(httpx.Auth):
    """Signs each attempt afresh: a counter stands in for the timestamp."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.requests: list[httpx.Request] = []

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.requests.append(request)
        request.headers["X-CT-Timestamp"] = str(len(self.requests))
        # The fake knows only its key; a real signer sets CTApiV2Auth here.
        request.headers["X-CT-Authorization"] = f"CTApiKey {self.key}"
        yield request


async def test_an_auth_flow_signs_every_attempt(
    fake: FakeCrowdTwist, fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROWDTWIST_API_KEY", "env-key-never-sent")
    signer = Signer(fake.api_key)
    fake.script(503, json={"error": "internal_error", "message": "busy"})
    async with ct.Session(
        base_url=fake.base_url, transport=fake.transport(), auth=signer
    ) as session:
        coupons = await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")

    assert len(coupons) == 3
    assert [r.status for r in fake.requests] == [503, 200]
    assert [r.headers["X-CT-Timestamp"] for r in signer.requests] == ["1", "2"]
    assert signer.requests[0] is not signer.requests[1]
    for request in signer.requests:
        assert request.url.params.get("api_key") is None
        assert "env-key-never-sent" not in str(request.url)
        assert "env-key-never-sent" not in str(request.headers)


async def test_an_auth_flow_signs_each_page_of_a_listing(fake: FakeCrowdTwist, form: str) -> None:
    signer = Signer(fake.api_key)
    async with ct.Session(
        base_url=fake.base_url, transport=fake.transport(), auth=signer
    ) as session:
        listing = session.paginate(HISTORY, items="redemptions", max_concurrency=4)
        assert len(await drain(listing, form)) == 37
    assert len(signer.requests) == 4
    assert sorted(int(r.url.params["page"]) for r in signer.requests) == [1, 2, 3, 4]


async def test_an_auth_flow_replaces_the_key(fake: FakeCrowdTwist) -> None:
    signer = Signer(fake.api_key)
    with pytest.raises(ValueError, match=r"^pass api_key or an httpx\.Auth as auth=, not both"):
        ct.Session(api_key="k", base_url=fake.base_url, auth=signer)
    session = ct.Session(base_url=fake.base_url, transport=fake.transport(), auth=signer)
    assert repr(session) == (
        f"<Session open base_url='{fake.base_url}' auth=<Signer> max_concurrency=4 max_retries=2>"
    )
    await session.aclose()


async def test_an_unknown_auth_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^auth must be 'query', 'header' or an httpx\.Auth, got 'x'$"
    ):
        ct.Session(api_key="k", base_url="https://api1.crowdtwist.com", auth="x")  # type: ignore[arg-type]


# --- the endpoints on the engine -------------------------------------------------------------


async def test_the_endpoints_and_paginate_read_the_same_listing(session: ct.Session) -> None:
    rewards = await all_reward_ids(session)
    raw = session.paginate("/v2.1/users/1001/rewards", items="rewards")
    # The wire's ids, some sent as numbers: the default key reads them as text.
    ids = [item["id"] async for item in raw]
    assert [str(i) for i in ids] == rewards
    assert {type(i) for i in ids} == {int, str}


# --- the first page's promise from a later start ------------------------------------------


def numbered_pages(size: int, total: int) -> list[list[int]]:
    return [list(range(first, min(first + size, total + 1))) for first in range(1, total + 1, size)]


async def test_a_later_first_page_longer_than_assumed_teaches_the_size(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    # No page_size: 10 is assumed, but the server sends pages of 20.
    pages = numbered_pages(20, 100)
    for number, ids in enumerate(pages, start=1):
        page = scripted_page(ids, number=number, total=100, pages=5)
        fake.script(json=page, page=number)
    listing = session.paginate(HISTORY, items="redemptions", start_page=3, max_concurrency=4)
    got = [item["id"] async for item in listing]
    # Pages 3-5 hold the 60 items page 3's total leaves: 100 less 2 pages of 20.
    assert got == list(range(41, 101))
    assert sorted(pages_asked(fake)) == [3, 4, 5]
    assert listing.resume_page is None


async def test_a_later_first_page_short_of_what_was_assumed_keeps_the_size(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    # Page 3 of 23 items at page size 10 is the last, and short: 3 items.
    fake.script(json=scripted_page([21, 22, 23], number=3, total=23, pages=3), page=3)
    listing = session.paginate(HISTORY, items="redemptions", start_page=3)
    assert [item["id"] async for item in listing] == [21, 22, 23]
    assert pages_asked(fake) == [3]
    assert listing.resume_page is None


async def test_a_total_below_the_pages_before_promises_nothing(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    # Page 3 says total 5, less than pages 1-2 alone would hold: no promise,
    # so the empty page 4 ends the listing quietly, as a listing without a total.
    fake.script(json=scripted_page([21, 22], number=3, total=5, pages=4), page=3)
    fake.script(json={"paging": {"total": 5, "pages": 4}, "redemptions": []}, page=4)
    listing = session.paginate(HISTORY, items="redemptions", start_page=3, max_concurrency=1)
    assert [item["id"] async for item in listing] == [21, 22]
    assert pages_asked(fake) == [3, 4]


async def test_max_items_that_reaches_the_end_leaves_nothing_to_resume(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.paginate(HISTORY, items="redemptions", max_items=37, max_concurrency=8)
    assert len(await drain(listing, form)) == 37
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4]
    assert listing.resume_page is None


async def test_max_items_of_one_page_resumes_at_the_next(
    session: ct.Session, fake: FakeCrowdTwist, form: str
) -> None:
    listing = session.paginate(HISTORY, items="redemptions", max_items=10, max_concurrency=8)
    got = await drain(listing, form)
    assert [str(item["id"]) for item in got] == history_ids(fake)[:10]
    assert pages_asked(fake) == [1]
    assert listing.resume_page == 2
