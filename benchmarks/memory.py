"""5. Memory: peak traced memory streaming a long listing against a short one.

An in-process transport serves pages generated on the fly (no server, no
socket buffers), so what grows is what the SDK keeps: by design only the
set of reward ids already yielded, for de-duplication. A buffered listing
(every reward in a list) is shown beside it for scale.
"""

from __future__ import annotations

import json
import tracemalloc

import httpx

import crowdtwist_async as ct

from ._common import Section, Target

TEMPLATE = json.loads(
    json.dumps(
        {
            "id": "0",
            "group_id": 8116,
            "title": "Test Reward",
            "description": "Reward with variance and required shipping and phone",
            "current_quantity": "4",
            "num_points": 20,
            "date_start": 1402057860,
            "date_end": None,
            "date_end_redeemable": None,
            "is_enabled": 1,
            "category_id": 2631,
            "no_end_date": "1",
            "total_quantity": 9999999,
            "max_select_quantity": None,
            "max_per_user": 2,
            "is_shipping_required": 0,
            "is_phone_number_required": 1,
            "is_min_age_required": "0",
            "min_age": None,
            "is_digital_download": 0,
            "sweepstake_winners": None,
            "extra_data": None,
            "reference_id": "46a6sd",
            "total_coupons": 0,
            "remaining_coupons": 0,
            "freq_cap": "1",
            "freq_period_id": "2",
            "freq_period_name": "Calendar Day",
            "image": "https://cdn.crowdtwist.com/img/v2/image.jpg",
            "reward_terms": None,
            "min_tier_id": None,
            "segment": {
                "name": "5x login",
                "subscription_id": 123,
                "eligibility_type": "inclusion",
            },
            "partner_info": {"id": 4869684, "name": "Acme Car Rentals"},
        }
    )
)


class Generated(httpx.AsyncBaseTransport):
    """Pages of 10 rewards with distinct ids, built on request."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        rewards = []
        if page <= self.pages:
            for index in range(10):
                reward = dict(TEMPLATE)
                reward["id"] = str(page * 10 + index)
                rewards.append(reward)
        body = {"paging": {"total": self.pages * 10, "pages": self.pages}, "rewards": rewards}
        return httpx.Response(200, content=json.dumps(body).encode())


async def peak(pages: int, *, buffered: bool) -> tuple[int, int]:
    """(rewards seen, peak traced bytes) for one listing of *pages* pages."""
    async with ct.Session(
        "key", base_url="https://bench.invalid", transport=Generated(pages)
    ) as session:
        # Warm up so one-off allocations (imports, caches, the client) are
        # not counted as growth.
        await session.users.get_rewards_page("member", page=1)
        tracemalloc.start()
        tracemalloc.reset_peak()
        kept = []
        count = 0
        async for reward in session.users.aiter_rewards("member", max_concurrency=8):
            count += 1
            if buffered:
                kept.append(reward)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return count, top


#: Bytes a streamed listing may keep per reward it has yielded.
TARGET_STREAMED = 150


async def run(quick: bool) -> Section:
    small, big = (100, 1_000) if quick else (100, 10_000)
    section = Section(
        title="5. Memory",
        setup=(
            f"Peak memory traced by tracemalloc while reading a listing of {big * 10:,} rewards "
            f"({big:,} pages) against one of {small * 10:,} ({small:,} pages), in process, "
            "max_concurrency 8. Bytes per extra reward = (peak difference) / (extra rewards)."
        ),
        header=(
            "listing",
            f"peak at {small * 10:,} (KiB)",
            f"peak at {big * 10:,} (KiB)",
            "bytes per extra reward",
        ),
    )
    for label, buffered in (
        ("streamed: async for", False),
        ("buffered in a list, for scale", True),
    ):
        n_small, p_small = await peak(small, buffered=buffered)
        n_big, p_big = await peak(big, buffered=buffered)
        assert (n_small, n_big) == (small * 10, big * 10)
        per_reward = (p_big - p_small) / (n_big - n_small)
        section.rows.append((label, p_small / 1024, p_big / 1024, per_reward))
        if not buffered:
            section.targets.append(
                Target(
                    "streamed listing, bytes per extra reward",
                    per_reward,
                    TARGET_STREAMED,
                    at_most=True,
                    unit=" B",
                )
            )
    return section
