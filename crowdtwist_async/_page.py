"""A page of any listing, as the page walk reads it, and the small functions a
listing is declared with (which items are the same record, what is yielded).

The data layer (`_payload`) builds these; the walk (`_pagination`) reads them;
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["FetchPage", "Key", "Page", "Select", "new_items"]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (an item of a page)
P = TypeVar("P")  # what a page-by-page listing yields for a page


class Page(Generic[I, P]):
    """One page as the walk reads it: the counts its `paging` stated (None:
    not usably), its items as they came, and `source`, the object a
    page-by-page listing yields for it (a `RewardsPage`, say)."""

    __slots__ = ("items", "next_page", "number", "pages", "source", "total")

    def __init__(
        self,
        *,
        number: int,
        total: int | None,
        pages: int | None,
        items: Sequence[I],
        next_page: int | None,
        source: P,
    ) -> None:
        self.number = number
        self.total = total
        self.pages = pages
        self.items = items
        self.next_page = next_page
        self.source = source

    def cut(self, last: I) -> Page[I, P]:
        """This page with its items up to *last* (the last one a listing keeps)."""
        end = next(i for i, item in enumerate(self.items) if item is last) + 1
        return Page(
            number=self.number,
            total=self.total,
            pages=self.pages,
            items=tuple(self.items[:end]),
            next_page=self.next_page,
            source=self.source,
        )


#: Fetch one page by number (a listing the API says is empty: a page with no items).
FetchPage = Callable[[int], Awaitable[Page[I, P]]]

#: What a listing yields for a page: from the page and its items not yielded before.
Select = Callable[[Page[I, P], list[I]], Sequence[T]]

#: Which record an item is, to yield each once; None: this item is never a repeat.
Key = Callable[[I], Hashable | None]


def new_items(page: Page[I, Any], fresh: list[I]) -> list[I]:
    """Select the items of a page not yielded before (item-by-item listings).

    Pages can shift while they are read (a record added before page 3 pushes
    one from page 3 onto page 4), so the same record can arrive twice.
    """
    return fresh
