"""7. Bytes per Reward retained: what keeping structured rewards costs.

The FakeCrowdTwist's pages (with their wire quirks), each decoded afresh with
`json.loads` as a response would be, structured, and only the rewards kept
in a list. tracemalloc measures what is still allocated once the pages,
the decoded JSON and the garbage are gone. pydantic's and msgspec's models
of the same data (section 4's) are measured the same way, for scale.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import tracemalloc
from typing import Any

import msgspec

from crowdtwist_async._payload import structure_rewards_page

from ._common import Section
from .forms import encoded_pages
from .structuring import PYDANTIC, MPage, PPage, Structure, shifted

PAGES = 10
SDK = "crowdtwist_async Reward (attrs, frozen)"


def retained(structure: Structure, pages: dict[int, bytes], count: int, *, new: bool) -> float:
    """Bytes still allocated per reward with *count* of them kept in a list;
    with *new*, every pass over the pages shifts their timestamps, so that no
    two rewards share a date.

    The list's own array of pointers is left out: a caller keeps its rewards
    in some container, and which one is theirs to choose.
    """
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        kept: list[Any] = []
        passes = 0
        while len(kept) < count:
            passes += 1
            for number, body in pages.items():
                page = json.loads(body)
                if new:
                    page = shifted([page], passes)[0]
                kept.extend(structure(page, number).rewards)
        del kept[count:]
        gc.collect()
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if len(kept) != count or any(reward is None for reward in kept):
        raise AssertionError(f"kept {len(kept)} rewards, expected {count}")
    return (used - base - sys.getsizeof(kept)) / count


async def run(quick: bool) -> Section:
    count = 2_000 if quick else 10_000
    repeats = 1 if quick else 3
    pages, _, _ = await encoded_pages(PAGES)
    contenders: dict[str, Structure] = {
        SDK: structure_rewards_page,
        f"{PYDANTIC} (BaseModel, frozen)": lambda page, _: PPage.model_validate(page),
        "msgspec, lax (Struct, frozen)": lambda page, _: msgspec.convert(page, MPage, strict=False),
    }
    for structure in contenders.values():
        # Outside the trace: the first call builds each library's caches.
        structure(json.loads(pages[1]), 1)
    section = Section(
        title="7. Bytes per Reward retained",
        setup=(
            f"{count:,} rewards structured from the FakeCrowdTwist's pages ({PAGES} pages, each "
            "decoded afresh with `json.loads` every time it is used) and kept in a list: "
            f"the same {PAGES * 10} rewards again and again (as many members' rewards with "
            "the same dates would be), and with every pass's timestamps shifted (as one long "
            "listing of distinct rewards would be); "
            "tracemalloc's count of what stays allocated after a garbage collection, per "
            "reward, the list's own pointers left out"
            + ("" if repeats == 1 else f"; median of {repeats} runs")
            + ". The same data in section 4's pydantic and msgspec models, for scale: "
            "no target is set on this figure. Every run checks that it kept every reward."
        ),
        header=(
            "model",
            "bytes per reward: the same rewards again",
            "relative to the SDK's",
            "bytes per reward: every date new",
            "relative to the SDK's",
        ),
    )
    figures: dict[tuple[str, bool], float] = {}
    for new in (False, True):
        for name, structure in contenders.items():
            runs = [retained(structure, pages, count, new=new) for _ in range(repeats)]
            figures[name, new] = statistics.median(runs)
    for name in contenders:
        cells: list[object] = [name]
        for new in (False, True):
            cells += [figures[name, new], figures[name, new] / figures[SDK, new]]
        section.rows.append(cells)
    return section
