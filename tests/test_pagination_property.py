"""Properties of the page walk against servers honest and not, drawn by hypothesis.

Whatever a server answers, a listing never asks for a page twice, stays
within ceil(total / page size) + 1 requests when page 1 states a usable
total, and never ends quietly with fewer rewards than that total: it either
yields them all or raises `IncompleteListingError`. An honest server's
listing comes out whole and in order, in both forms, on asyncio and trio.
"""

from __future__ import annotations

import math
from typing import Any

import anyio
import attrs
import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

import crowdtwist_async as ct

from .conftest import API_KEY, BASE_URL
from .sample_data import make_reward

PAGE_SIZE = 10  # what the SDK asks for by default


@attrs.frozen
class Server:
    """A rewards listing of `count` rewards served `size` a page, and how it lies."""

    count: int
    size: int
    total: str  # "true", "none", "more" or "fewer"
    pages: str  # "true", "none", "zero", "huge" or "wrong"
    wrong_pages: int
    fault: str  # "none", "ignores-page", "empty-page", "no-links"
    fault_page: int

    def reported_total(self) -> int | None:
        return {
            "true": self.count,
            "none": None,
            "more": self.count + 7,
            "fewer": self.count // 2,
        }[self.total]

    def answer(self, page: int) -> dict[str, Any]:
        real_pages = math.ceil(self.count / self.size)
        shown = 1 if self.fault == "ignores-page" else page
        first = (shown - 1) * self.size + 1
        ids = range(first, min(first + self.size, self.count + 1)) if shown >= 1 else range(0)
        if self.fault == "empty-page" and page == self.fault_page:
            ids = range(0)
        pages: object = {
            "true": real_pages,
            "none": None,
            "zero": 0,
            "huge": 10**9,
            "wrong": self.wrong_pages,
        }[self.pages]
        link = None if self.fault == "no-links" or page >= real_pages else f"?page={page + 1}"
        return {
            "paging": {"total": self.reported_total(), "pages": pages, "next_page": link},
            "rewards": [make_reward(i) for i in ids],
        }

    @property
    def honest(self) -> bool:
        return self.total == "true" and self.pages in ("true", "none") and self.fault == "none"


servers = st.builds(
    Server,
    count=st.integers(0, 45),
    size=st.sampled_from([PAGE_SIZE, PAGE_SIZE, 3, 7]),
    total=st.sampled_from(["true", "true", "none", "more", "fewer"]),
    pages=st.sampled_from(["true", "true", "none", "zero", "huge", "wrong"]),
    wrong_pages=st.integers(1, 8),
    fault=st.sampled_from(["none", "none", "ignores-page", "empty-page", "no-links"]),
    fault_page=st.integers(1, 6),
)


@attrs.define
class Outcome:
    ids: list[str]
    error: BaseException | None
    pages: list[int]


async def walk(server: Server, concurrency: int, entered: bool) -> Outcome:
    requested: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        requested.append(page)
        return httpx.Response(200, json=server.answer(page))

    got: list[str] = []
    error: BaseException | None = None
    transport = httpx.MockTransport(handle)
    async with ct.Session(API_KEY, base_url=BASE_URL, transport=transport) as session:
        listing = session.users.aiter_rewards("alice", max_concurrency=concurrency)
        try:
            if entered:
                async with listing:
                    got += [r.id async for r in listing]
            else:
                got += [r.id async for r in listing]
        except ct.CrowdTwistError as exc:
            error = exc
    return Outcome(got, error, requested)


@settings(max_examples=300, deadline=None)
@given(
    server=servers,
    concurrency=st.integers(1, 5),
    entered=st.booleans(),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_a_listing_is_whole_or_says_so_and_stays_bounded(
    server: Server, concurrency: int, entered: bool, backend: str
) -> None:
    outcome = anyio.run(walk, server, concurrency, entered, backend=backend)
    pages = outcome.pages
    assert len(set(pages)) == len(pages), pages
    assert len(set(outcome.ids)) == len(outcome.ids)
    assert outcome.error is None or isinstance(outcome.error, ct.IncompleteListingError)

    first = server.answer(1)
    on_page_1 = len(first["rewards"])
    total = server.reported_total()
    if total is not None and total >= on_page_1:
        size = on_page_1 if total > on_page_1 > 0 else PAGE_SIZE
        assert len(pages) <= max(1, math.ceil(total / size)) + 1, pages
        if outcome.error is None:
            # Never quietly short of what page 1 announced.
            assert len(outcome.ids) >= total
    else:
        # Without a usable total, the walk stops at the first page that adds
        # nothing, at most a read-ahead past the real end.
        real_pages = math.ceil(server.count / server.size)
        assert len(pages) <= real_pages + 1 + 2 * concurrency, pages

    if server.honest:
        assert outcome.error is None
        assert outcome.ids == [str(i) for i in range(1, server.count + 1)]
