"""A paginated listing, declared once, and the options every listing takes.

`ListingOptions` are the keyword arguments of every listing method
(`aiter_rewards`, `aiter_reward_pages`, `paginate`, and each listing to come),
spelled here once and checked here once (`Walk.check`). A `ListingSpec`
declares one CrowdTwist listing: the engine (`_engine.Engine.listing`) turns
a spec, a query and the options into an `AsyncPaginator`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Generic, TypedDict, TypeVar

import attrs

from ._page import Key, Page
from ._protocol import check_int

__all__ = ["ASSUMED_PAGE_SIZE", "ListingOptions", "ListingSpec", "Walk", "check_page_size"]

I = TypeVar("I")  # noqa: E741 (an item of a page)
P = TypeVar("P")


class ListingOptions(TypedDict, total=False):
    """How a listing is read: the keyword arguments every listing method takes.

    Each is checked when the listing is made, before any request: a wrong
    type or an unknown name is a `TypeError`, a value out of its bounds a
    `ValueError`.

    Type a wrapper's keyword arguments with it (`typing.Unpack` on Python
    3.11+, `typing_extensions.Unpack` before), as in the example below.

    Attributes:
        page_size: the items a page holds, as sent to the server: an int
            from 1 to the endpoint's documented maximum, if it has one (None,
            the default: the server's own, learned from the first page).
        max_concurrency: the most pages in flight at once: an int of at
            least 1 (default: the session's `max_concurrency`).
        start_page: the page to start at: an int of at least 1 (default 1),
            e.g. a batch job going on from `resume_page`.
        max_items: stop after this many items, asking for no page that cannot
            add to them: an int of at least 1, and no less than `page_size`
            when that is given (default: every item).

    Example:
        ```python
        def rewards_of(
            user: str, **options: Unpack[ct.ListingOptions]
        ) -> ct.AsyncPaginator[ct.Reward]:
            return session.users.aiter_rewards(user, id_type="email", **options)
        ```
    """

    page_size: int | None
    max_concurrency: int | None
    start_page: int
    max_items: int | None


_OPTIONS: Final = frozenset(ListingOptions.__annotations__)

#: The page size taken until the first page shows the server's, where the
#: server chooses it: the documented default of CrowdTwist's listings.
ASSUMED_PAGE_SIZE: Final = 10


def check_page_size(value: object, high: int | None) -> int:
    """*value* as a page size: an int from 1 to *high* (None: no upper bound)."""
    return check_int("page_size", value, low=1, high=high)


@attrs.frozen
class ListingSpec(Generic[I, P]):
    """One paginated CrowdTwist listing, declared once.

    Attributes:
        template: the path, with its variable parts named (`{user_id}`): how
            spans and logs name the listing (a user id is personal data).
        parse_page: builds page *number* from the decoded JSON (or
            `EMPTY_LISTING`, for `no_data`).
        key: which record an item is, to yield each once (None: no
            de-duplication).
        noun: what the items are called in messages (`"rewards"`).
        max_page_size: the largest `page_size` the endpoint takes (None: no
            documented bound).
        default_page_size: the page size the endpoint serves when asked for
            none, as documented.
    """

    template: str
    parse_page: Callable[[object, int], Page[I, P]]
    key: Key[I] | None
    noun: str = "items"
    max_page_size: int | None = None
    default_page_size: int = ASSUMED_PAGE_SIZE


@attrs.frozen
class Walk:
    """A listing's options, checked: what the walk and the requests use."""

    #: The page size sent as `page_size` (None: the server's).
    page_size: int | None
    max_concurrency: int
    start_page: int = 1
    max_items: int | None = None
    #: The page size counted with until the first page shows the server's.
    assumed_page_size: int = ASSUMED_PAGE_SIZE

    @classmethod
    def check(
        cls,
        options: Mapping[str, object],
        *,
        concurrency: int,
        max_page_size: int | None,
        noun: str,
        default_page_size: int = ASSUMED_PAGE_SIZE,
    ) -> Walk:
        """Check a listing's keyword arguments, before any request.

        An unknown name is a TypeError, as Python's own for a keyword argument
        a function does not take. A `max_items` below the page size is
        refused (a listing cut inside its first page would resume there, and
        read the same items again, for ever); without a `page_size`, a
        `max_items` below the documented default page size is sent as the
        page size. *concurrency* is the default `max_concurrency`;
        *default_page_size* the endpoint's documented default page size.
        """
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise TypeError(f"got an unexpected keyword argument {unknown[0]!r}")
        size = options.get("page_size")
        page_size = None if size is None else check_page_size(size, max_page_size)
        given = options.get("max_concurrency")
        if given is not None:
            concurrency = check_int("max_concurrency", given, low=1)
        start = check_int("start_page", options.get("start_page", 1), low=1)
        limit = options.get("max_items")
        if limit is not None:
            limit = check_int("max_items", limit, low=1)
            if page_size is not None and limit < page_size:
                raise ValueError(
                    f"max_items ({limit}) must be at least page_size ({page_size}): a listing "
                    "resumed at resume_page would read the same items again; for the first "
                    f"{limit} {noun} pass page_size={limit} too"
                )
            if page_size is None and limit < default_page_size:
                page_size = limit
        return cls(
            page_size=page_size,
            max_concurrency=concurrency,
            start_page=start,
            max_items=limit,
            assumed_page_size=default_page_size,
        )
