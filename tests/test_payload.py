"""`_payload`: the envelope around the records, and the page numbers in links.

Most of it is covered through the samples in test_converter.py; these are
the exact messages, and the shortcuts that must not change what is read.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from crowdtwist_async import ResponseDecodeError

# Private on purpose: this module unit-tests the payload envelopes, fed what
# the decoder hands them (`EMPTY_LISTING` for an "empty listing" error).
from crowdtwist_async._payload import empty_page, page_number_from_link, structure_rewards_page
from crowdtwist_async._protocol import EMPTY_LISTING

from .sample_data import make_reward

PAGING = {"total": 12, "pages": 2, "next_page": "https://x/?page=2", "prev_page": None}


def test_an_empty_listing_is_an_empty_page_with_the_number_asked_for() -> None:
    page = structure_rewards_page(EMPTY_LISTING, 4)

    assert page == empty_page(4)
    assert (page.number, page.total, page.pages, page.rewards) == (4, 0, 0, ())
    assert (page.next_page, page.prev_page) == (None, None)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(
            "rewards",
            "invalid rewards page: expected a JSON object, got string 'rewards'",
            id="str",
        ),
        pytest.param(
            {"paging": PAGING, "rewards": 10},
            "invalid rewards page: field 'rewards': expected a JSON array, got int 10",
            id="rewards-int",
        ),
    ],
)
def test_a_page_of_the_wrong_shape_says_what_it_got(payload: object, message: str) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_rewards_page(payload, 1)

    assert (info.value.message, info.value.field) == (message, "rewards")


class RewardList(list[Any]):
    """A list, but not exactly `list` (as a JSON library's own type could be)."""


def test_mappings_and_lists_that_are_not_dict_and_list_read_the_same() -> None:
    # The type() checks are shortcuts for plain JSON; any mapping or list is read.
    rewards = [make_reward(1), make_reward(2)]
    plain = structure_rewards_page({"paging": PAGING, "rewards": rewards}, 1)

    other = structure_rewards_page(
        MappingProxyType({"paging": MappingProxyType(PAGING), "rewards": RewardList(rewards)}), 1
    )

    assert other == plain
    assert (other.total, other.pages, other.next_page) == (12, 2, 2)
    assert [reward.id for reward in other.rewards] == ["1", "2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # As parse_qs reads it: a parameter without a value does not count...
        pytest.param("page=&page=3", 3, id="blank-then-number"),
        pytest.param("x&page=3", 3, id="bare-name-first"),
        # ...names are percent-decoded, and the first page= wins, number or not.
        pytest.param("pa%67e=3", 3, id="encoded-name"),
        pytest.param("page==3&page=5", None, id="first-value-not-a-number"),
    ],
)
def test_the_page_of_a_link(query: str, expected: int | None) -> None:
    assert page_number_from_link(f"https://api[client_id].ct.com/v2.1/rewards?{query}") == expected
