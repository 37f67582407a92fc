"""A scriptable fake of the rewards and coupons endpoints, for MockTransport.

It records what the SDK asked for (page numbers, in order, and how many
requests were in flight at once) so tests assert behaviour, not timing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

SAMPLES = Path(__file__).parent / "samples"


def load(name: str) -> Any:
    """A saved sample from tests/samples/, decoded."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


#: The vendor's own sample reward (fields at the top level beside `paging`).
DOCS_REWARDS_SAMPLE: dict[str, Any] = json.loads((SAMPLES / "rewards_sample.json").read_text())


def make_reward(reward_id: int) -> dict[str, Any]:
    """A reward dict in the wire format, with the docs' quirks, numbered *reward_id*."""
    reward = {k: v for k, v in DOCS_REWARDS_SAMPLE.items() if k != "paging"}
    reward = copy.deepcopy(reward)
    reward["id"] = str(reward_id)
    reward["title"] = f"Reward #{reward_id}"
    return reward


PageHook = Callable[[int], Awaitable[httpx.Response | None]]


class FakeRewardsAPI:
    """Serves `total` rewards in pages, as CrowdTwist documents it.

    Knobs: `delay` per response, `pages_field` and `total_field` to override
    `paging.pages` and `paging.total` (callables of the page number, so tests
    can lie per page), `link_host`
    for the (wrong) host the links point at, `hook` to answer a request
    instead (return None to fall through), and `rewards_for` to replace the
    content of a page.
    """

    def __init__(self, *, api_key: str) -> None:
        self.api_key = api_key
        self.total = 25
        self.page_size_default = 10
        self.delay = 0.0
        self.pages_field: Callable[[int], object] | None = None
        self.total_field: Callable[[int], object] | None = None
        self.link_host = "https://api[client_id].ct.com"
        self.next_link: Callable[[int], str | None] | None = None
        self.hook: PageHook | None = None
        self.rewards_for: Callable[[int, int], list[dict[str, Any]]] | None = None
        self.coupons_body: object = []
        # What happened:
        self.requests: list[httpx.Request] = []
        self.pages_requested: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed = 0
        self.cancelled = 0

    def page_count(self, page_size: int) -> int:
        return -(-self.total // page_size)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if request.url.path.endswith("/usable_coupons"):
                return httpx.Response(200, json=self.coupons_body)
            page = int(request.url.params.get("page", "1"))
            self.pages_requested.append(page)
            if self.delay:
                await anyio.sleep(self.delay)
            if self.hook is not None:
                scripted = await self.hook(page)
                if scripted is not None:
                    return scripted
            return self._rewards_page(request, page)
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
            self.completed += 1

    def _rewards_page(self, request: httpx.Request, page: int) -> httpx.Response:
        size = int(request.url.params.get("page_size", str(self.page_size_default)))
        pages = self.page_count(size)
        if self.rewards_for is not None:
            rewards = self.rewards_for(page, size)
        else:
            first = (page - 1) * size + 1
            last = min(page * size, self.total)
            rewards = [make_reward(i) for i in range(first, last + 1)] if page >= 1 else []
        next_page = (
            self.next_link(page)
            if self.next_link is not None
            else (
                f"{self.link_host}/v2.1/rewards?page={page + 1}&api_key=" if page < pages else None
            )
        )
        paging: dict[str, object] = {
            "total": self.total_field(page) if self.total_field is not None else self.total,
            "pages": self.pages_field(page) if self.pages_field is not None else pages,
            "next_page": next_page,
            "prev_page": f"{self.link_host}/v2.1/rewards?page={page - 1}&api_key="
            if page > 1
            else None,
        }
        return httpx.Response(200, json={"paging": paging, "rewards": rewards})
