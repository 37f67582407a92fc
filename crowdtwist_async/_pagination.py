"""The concurrent, bounded, ordered and checked page walker behind `aiter_rewards`.

One walk, two ways to host its requests:

- Plain `async for`: when the consumer needs a page that has not arrived,
  `__anext__` fetches a window of pages from it, `max_concurrency` at a
  time, in a task group of its own, and returns once the window is done:
  after page 1 (alone), a first window of up to 2 x `max_concurrency` pages,
  then, while the consumer keeps asking, windows of up to 8 x
  `max_concurrency`. No task, task group or cancel scope outlives the call
  that started it, so `break`, an exception, a cancellation or dropping the
  object leave nothing running, with no finalizer and no help from the
  garbage collector.
- `async with listing:`: the block owns a task group, and pages keep arriving
  while the consumer works (a sliding window: at most `max_concurrency`
  requests in flight, at most 4 x `max_concurrency` pages started ahead of
  the consumer). Leaving the block cancels what still runs.

Nothing here yields from inside a task group or cancel scope: the paginator
is a plain class.

Which pages to ask for, and whether the pages read make the whole listing, is
`_Plan`'s business, pure bookkeeping with no I/O. It never follows the links
the API returns as they are (they point at the wrong host and path in the
vendor's own sample); at most it reads the page number in `next_page`.

The walk knows nothing of rewards: a page is a `Page` of items, a key function
says which items are the same record, and a select function says what the
listing yields for a page (its new items, or the page itself).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, Protocol, TypeVar

import anyio
import anyio.lowlevel
import attrs

from ._exceptions import IncompleteListingError, ListingChangedError
from ._listing import Walk
from ._page import FetchPage, Key, Page, Select

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

__all__ = [
    "AHEAD_PER_SLOT",
    "WIDE_WINDOW_PER_SLOT",
    "WINDOW_PER_SLOT",
    "AsyncPaginator",
    "Outcome",
    "Report",
]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (an item of a page)
P = TypeVar("P")  # what a page-by-page listing yields for a page


#: How a listing ended: read to its end (or to `max_items`), raised, was
#: cancelled, or was closed or dropped by its reader before its end.
Outcome = Literal["complete", "error", "cancelled", "stopped"]


class Report(Protocol):
    """Told how a listing ended (see `_telemetry.ListingReport`)."""

    def finish(
        self, outcome: Outcome, *, pages: int, items: int, error: BaseException | None
    ) -> None: ...


#: How many pages, per allowed request in flight, an entered listing may start
#: ahead of the consumer (in flight plus fetched but not yet consumed). 4 lets
#: the other requests go on through a page four times slower than the rest at
#: the head of the window (2 did not: benchmarks/RESULTS.md, section 2), while
#: memory stays bounded by the concurrency, not by the listing's size.
AHEAD_PER_SLOT: Final = 4

#: How many pages, per allowed request in flight, the first window of a plain
#: listing fetches (after page 1, which is read alone): a call that needs a
#: page that has not arrived fetches a window and returns once all of it has.
#: Each window waits for its slowest page; 2 rounds a window pay that once per
#: two rounds rather than every round, and a reader that takes a few items and
#: leaves with `break` wastes at most 2 x C - 1 pages.
WINDOW_PER_SLOT: Final = 2

#: How many pages, per allowed request in flight, each later window of a
#: plain listing fetches, once the consumer has read a whole first window and
#: asks for more: a long read then pays a window's slowest page once per 8
#: rounds. Measured (issue 23: 60 pages, C=8, 25 +- 5 ms, loopback HTTP on
#: aiohttp, interleaved medians, time over a hand-written loop on raw
#: aiohttp), windows of 2C / 4C / 2C, 4C, 8C / 2C then 8C: flat 1.16 / 1.11 /
#: 1.14 / 1.08; 6 pages 4x slower 1.59 / 1.27 / 1.33 / 1.15; 8x slower
#: 1.93 / 1.34 / 1.55 / 1.24 (doubling leaves a short last window that waits
#: for its slow page alone). At 200 pages, 16C gained 1-2% over 8C, 6C lost
#: 2-12%. The price: a `break` in a later window wastes up to 8 x C - 1 pages
#: (2 x C - 1 in the first), up to 8 x C pages are held at once, and the
#: wait for a window's first item is up to 8 rounds (the longest pause
#: between two items, flat: 155 ms against 60 ms with 2C windows).
WIDE_WINDOW_PER_SLOT: Final = 8

_Shortfall = Literal["empty", "repeated", "exhausted"]


@attrs.frozen
class _Paging:
    """A listing's size as a page states it (None: not stated usably)."""

    total: int | None = None
    pages: int | None = None


_UNSTATED: Final = _Paging()


class _Plan(Generic[I]):
    """Which pages to ask for, and whether what came back is the whole listing.

    The first page (page 1, or `start_page`) is asked for first and alone.
    Its `total` (T) is a promise: the listing is whole once the pages from
    there on hold the records T leaves (T, less a page size per page before
    the first), counted as the server sent them, repeats included. Each
    distinct record is yielded once, and a page that adds nothing (empty,
    `null`, `no_data`, or only records already yielded) before the promise
    is kept is an `IncompleteListingError`, never a quiet end. With T known,
    the pages are counted from it, by the page size the first page shows:
    when `pages` disagrees (the docs' own table sends total 203 with pages
    10), the records are the evidence, not the page count. Once the records
    add up, no further page is asked for; the page after the last is asked
    for only when they do not (records pushed past the end by an insertion).
    A listing that grows while it is read is followed to its new total.
    Without T, `pages` is the promise. A first page without a usable `pages`
    makes the walk follow the page number in each `next_page`, one page at
    a time. No page is asked for twice.

    The page size is the one asked for, or, when the server chooses it
    (`page_size=None`), learned from the first page: page 1's length, or,
    for a later first page, what its `total`, `pages` and length allow
    (`_later_size`); a later first page whose paging cannot say is an
    `IncompleteListingError`, since the records before it cannot be counted.

    With `max_items`, the walk ends once that many records were yielded, and
    never asks for a page the records before it would already fill.
    """

    def __init__(self, walk: Walk, *, key: Key[I] | None, noun: str = "items") -> None:
        self._walk = walk
        self._key = key
        self._noun = noun
        #: The page size counted with: asked for, then learned, else assumed.
        self._size = walk.assumed_page_size if walk.page_size is None else walk.page_size
        #: What the first page stated, and the largest any page stated since
        #: (the listing may grow while it is read).
        self._first = self._largest = _UNSTATED
        self._before = 0  # records on the pages before the first one read
        # Scheduling. Until the first page states its pages, one page at a
        # time: the first page, then the page a link named (`_follow`).
        self.next_start = walk.start_page
        self._follow: int | None = walk.start_page
        self._extra = False  # whether the page after the last may be asked for
        self._end: int | None = None  # no page after this one will be consumed
        # Progress, over the pages consumed.
        self._seen: set[Hashable] = set()
        self._received = 0  # records as the pages held them, repeats included
        self._yielded = 0  # distinct records handed on
        self._consumed = walk.start_page - 1
        #: Nothing after the last consumed page is needed: the walk is over.
        self.done = False
        #: `max_items` items were yielded: the walk is over.
        self.filled = False
        #: The last page was cut to `max_items`.
        self.truncated = False
        #: The page a new walk would start at to go on after the items consumed
        #: (None once the listing is known to hold nothing more).
        self.resume: int | None = walk.start_page

    # -- what to ask for -----------------------------------------------------

    @property
    def last(self) -> int | None:
        """The last page the walk expects to read, once the first page says (else None)."""
        if self._first.pages is None:
            return None
        if self._largest.total is not None:
            return max(1, math.ceil(self._largest.total / self._size))
        return self._largest.pages

    @property
    def size(self) -> int:
        """The page size the walk counts with: asked for, learned, or assumed."""
        return self._size

    @property
    def _promised(self) -> int | None:
        """The records expected from the first page on, when a total says."""
        total = self._largest.total
        return None if total is None else total - self._before

    @property
    def stuck(self) -> bool:
        """Whether `max_items` ended the walk inside its first page, so that a
        walk resumed at `resume` would yield the same records again."""
        return self.truncated and self.resume == self._walk.start_page

    def startable(self) -> int | None:
        """The page that may be asked for now, or None until something arrives."""
        number = self._candidate()
        if number is None or (self._end is not None and number > self._end):
            return None
        total = self._largest.total
        if total is not None and number > math.ceil(total / self._size) + 1:
            return None
        limit = self._walk.max_items
        # The pages between the last consumed and this one hold at most a
        # page size each: when they would fill `max_items`, this page cannot
        # contribute (a repeat found later makes room again).
        if (
            limit is not None
            and self._yielded + (number - self._consumed - 1) * self._size >= limit
        ):
            return None
        return number

    def _candidate(self) -> int | None:
        """The next page in order, if the pages known (or a link) allow it."""
        last = self.last
        if last is None:
            return self._follow
        number = self.next_start
        return None if number > last + self._extra else number

    def started(self, number: int) -> None:
        self.next_start = number + 1
        self._follow = None

    def arrived(self, number: int, page: Page[I, Any]) -> bool:
        """Learn from page *number*; True if nothing after it will be read."""
        if number == self._walk.start_page:
            self._learn(page)
        if not page.items or self._shrunk(page) is not None:
            self.cut(number)
            return True
        # A listing may grow while it is read: follow it.
        largest = self._largest
        if largest.total is not None:
            if page.total is not None and page.total > largest.total:
                self._largest = attrs.evolve(largest, total=page.total)
        elif largest.pages is not None and page.pages is not None and page.pages > largest.pages:
            self._largest = attrs.evolve(largest, pages=page.pages)
        target = page.next_page
        # A link back to this page or an earlier one would loop forever.
        if self._first.pages is None and target is not None and target >= self.next_start:
            self._follow = target
        return False

    def cut(self, number: int) -> None:
        """Nothing after page *number* will be consumed (it failed or ended the listing)."""
        self._end = number if self._end is None else min(self._end, number)

    def _learn(self, page: Page[I, Any]) -> None:
        items = len(page.items)
        total = page.total
        start = self._walk.start_page
        if start == 1:
            if total is not None and total >= items > 0:
                # Page 1 is full, or holds the whole listing: its length is
                # (at least) the page size the server uses.
                self._size = items
        else:
            self._size = self._later_size(page)
        before = (start - 1) * self._size
        # A total below what the pages up to this one hold promises nothing.
        if total is None or total < before + items:
            total = None
        else:
            self._before = before
        pages = page.pages if page.pages is not None and page.pages >= 1 else None
        self._first = self._largest = _Paging(total=total, pages=pages)

    def _later_size(self, page: Page[I, Any]) -> int:
        """The page size, as a first page after page 1 shows it.

        Page k (> 1) holding n records of a listing of T is either full (the
        size is n) or the last (the size is (T - n) / (k - 1)); `pages`
        decides between them. The size asked for is kept when the page agrees
        with it. Raises when the server chose the size and the page cannot say.
        """
        number, items, total = self._walk.start_page, len(page.items), page.total
        asked = self._walk.page_size
        if total is None or (items and number * items > total):
            # Without a total the size only bounds `max_items`' look-ahead;
            # a total below what the pages hold promises nothing (see `_learn`).
            return max(items, asked or 0) or self._size
        sizes = _sizes_for(number, items, total)
        if asked is not None and (asked in sizes or not items):
            return asked
        size = _one_size(sizes, total, page.pages)
        if size is not None:
            return size
        if not items and page.pages is not None and number > page.pages:
            return self._size  # past the end: no record is promised from here
        raise IncompleteListingError(
            f"page {number}'s paging (total {total}, pages {page.pages}, {items} {self._noun} "
            f"on it) does not say the server's page size, so the {self._noun} before page "
            f"{number} cannot be counted; pass page_size= to start at page {number}",
            page=number,
            expected_total=None,
            seen=0,
        )

    def _shrunk(self, page: Page[I, Any]) -> int | None:
        """The lower total *page* reports than the first page did, if it does."""
        stated = self._first.total
        if page.total is not None and stated is not None and page.total < stated:
            return page.total
        return None

    # -- what came back ------------------------------------------------------

    def consume(self, number: int, page: Page[I, Any]) -> list[I] | None:
        """The items of page *number* not yielded before, or None at the end.

        Pages are consumed in order. Raises `ListingChangedError` or
        `IncompleteListingError` where the listing is seen to be short.
        """
        self._consumed = number
        # An empty page says nothing about the listing's size: `no_data` has
        # no counts at all (it reads as total 0), so it is only "empty".
        lower = self._shrunk(page) if page.items else None
        if lower is not None:
            raise ListingChangedError(
                page=number,
                expected_total=self._first.total or 0,
                total=lower,
                seen=self._yielded,
                first_page=self._walk.start_page,
                noun=self._noun,
            )
        items = page.items
        fresh = self._fresh(items)
        if not fresh:
            self._check_end(number, "repeated" if items else "empty")
            self.resume = None
            return None
        self._received += len(items)
        self._take(fresh)
        promised = self._promised
        if promised is not None and self._yielded < promised and number == self.last:
            # A record met twice may have been pushed there by one added before
            # it, pushing the last record onto the next page: ask for that page
            # too. If it holds nothing new, the repeats were the server's own
            # and the records, counted as sent, say whether the listing is whole.
            self._extra = True
        self.done = self._ends_at(number, page)
        if self.truncated:
            self.resume = number
        else:
            self.resume = None if self.done else number + 1
        return fresh

    def _fresh(self, items: Sequence[I]) -> list[I]:
        """The *items* not yielded before (a key of None is never a repeat)."""
        key = self._key
        if key is None:
            return list(items)
        seen = self._seen
        fresh = []
        for item in items:
            name = key(item)
            if name is None:
                fresh.append(item)
            elif name not in seen:
                seen.add(name)
                fresh.append(item)
        return fresh

    def _take(self, fresh: list[I]) -> None:
        """Count *fresh* as yielded, cut to what `max_items` leaves."""
        limit = self._walk.max_items
        if limit is not None and self._yielded + len(fresh) >= limit:
            self.filled = True
            self.truncated = self._yielded + len(fresh) > limit
            del fresh[limit - self._yielded :]
        self._yielded += len(fresh)

    def _ends_at(self, number: int, page: Page[I, Any]) -> bool:
        """Whether the listing is known to hold nothing after page *number*."""
        last = self.last
        promised = self._promised
        if promised is not None and self._yielded >= promised:
            return True
        if last is None:
            # Following links: a page that names no later one is the last,
            # and `finish` says whether the listing is whole.
            linked = page.next_page is not None and page.next_page > number
            return not linked and (promised is None or self._received >= promised)
        if promised is None:
            return number >= last
        return self._received >= promised and number >= last + self._extra

    def finish(self) -> None:
        """The walk has no page left to read: raise if the listing is short."""
        promised = self._promised
        if promised is not None and self._received < promised:
            raise self._short(self._consumed, "exhausted")
        self.resume = None

    def _check_end(self, number: int, why: _Shortfall) -> None:
        promised = self._promised
        if promised is not None:
            # A page of nothing but repeats keeps no promise, whatever the
            # records add up to: a cache that ignores the page number sends one.
            held = self._yielded if why == "repeated" else self._received
            if held < promised:
                raise self._short(number, why)
        elif why == "repeated" or (self._first.pages is not None and number < self._first.pages):
            raise self._short(number, why)

    def _short(self, number: int, why: _Shortfall) -> IncompleteListingError:
        noun = self._noun
        first = self._walk.start_page
        promised = self._promised
        what = {
            "empty": f"page {number} was empty",
            "repeated": f"page {number} held only {noun} already read "
            "(is something between you and CrowdTwist ignoring the page number?)",
            "exhausted": f"no page after page {number} was left to ask for",
        }[why]
        if promised is not None and first == 1:
            expected = f"after {self._yielded} of the {promised} {noun} page 1 announced"
        elif promised is not None:
            expected = (
                f"after {self._yielded} of the {promised} {noun} page {first}'s total "
                f"({self._first.total}) leaves from there"
            )
        elif self._first.pages is not None:
            expected = (
                f"after {self._yielded} {noun}; page {first} announced {self._first.pages} pages"
            )
        else:
            expected = f"after {self._yielded} {noun}"
        return IncompleteListingError(
            f"the listing ended short: {what}, {expected}; read it again",
            page=number,
            expected_total=promised,
            seen=self._yielded,
        )


def _one_size(sizes: set[int], total: int, pages: int | None) -> int | None:
    """The one page size of *sizes* that `pages` agrees with, if there is one."""
    if len(sizes) > 1 and pages is not None:
        sizes = {size for size in sizes if math.ceil(total / size) == pages} or sizes
    return next(iter(sizes)) if len(sizes) == 1 else None


def _sizes_for(number: int, items: int, total: int) -> set[int]:
    """The page sizes that page *number* holding *items* of *total* allows:
    full (the size is *items*), or the last page."""
    sizes = set()
    if items:
        if number * items <= total:
            sizes.add(items)  # a full page
        rest, left = divmod(total - items, number - 1)
        if left == 0 and rest >= items:
            sizes.add(rest)  # the last page
    return sizes


class _Pending:
    """Marks a page whose request has not finished."""


_PENDING: Final = _Pending()


class _Slot(Generic[I, P]):
    """One page of one walk: its request's cancel scope and its outcome."""

    __slots__ = ("done", "number", "outcome", "scope")

    def __init__(self, number: int) -> None:
        self.number = number
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        self.outcome: Page[I, P] | BaseException | _Pending = _PENDING


class _PageWalk(Generic[I, P]):
    """The requests of one walk, hosted per call (a window) or by a task group.

    Invariants: pages are started in increasing order and consumed in the
    same order (the `pending` deque); at most `concurrency` are in flight;
    hosted by a group, at most `ahead` are started but not consumed; without
    one, every request started by a call has finished when the call returns.
    """

    def __init__(self, fetch: FetchPage[I, P], *, concurrency: int, plan: _Plan[I]) -> None:
        self._fetch = fetch
        self._concurrency = concurrency
        self._plan = plan
        self._pending: deque[_Slot[I, P]] = deque()
        self._running: set[_Slot[I, P]] = set()
        self._group: TaskGroup | None = None
        self._closed = False
        #: The most pages the next window of a plain read may fetch: the first
        #: window's, until a whole window was fetched and the consumer asks
        #: for more (`_fetch_window`).
        self._window = WINDOW_PER_SLOT * concurrency

    @property
    def page_count(self) -> int | None:
        """The number of pages the walk expects, once page 1 has said (None before)."""
        return self._plan.last

    @property
    def resume_page(self) -> int | None:
        """The page to start at to go on after the pages consumed (None: nothing left)."""
        return self._plan.resume

    @property
    def stuck(self) -> bool:
        """Whether `max_items` ended the walk inside its first page (see `_Plan.stuck`)."""
        return self._plan.stuck

    @property
    def page_size(self) -> int:
        """The page size the walk counts with (asked for, learned or assumed)."""
        return self._plan.size

    def host(self, group: TaskGroup | None) -> None:
        """Run page requests in *group* from now on (None: in each call's own window)."""
        self._group = group

    async def next_page(self) -> tuple[Page[I, P], list[I]] | None:
        """The next page in order and its new items, or None when the listing is over."""
        if self._closed:
            return None
        if not self._pending:
            if self._group is not None:
                self._start(self._group)
            else:
                await self._fetch_window()
            if self._closed:
                return None
            if not self._pending:
                self.close()
                self._plan.finish()
                return None
        slot = self._pending[0]
        await slot.done.wait()
        if self._closed:
            return None
        if isinstance(slot.outcome, _Pending):
            # Its request was cancelled by a scope around this task too. On
            # asyncio the page's `done` can wake this task before anyio
            # delivers that cancellation here: let it in now.
            await anyio.lowlevel.checkpoint()
        self._pending.popleft()
        return self._consume(slot)

    def _consume(self, slot: _Slot[I, P]) -> tuple[Page[I, P], list[I]] | None:
        """Hand on the page of *slot*, the next in order, or raise its error."""
        outcome = slot.outcome
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            assert not isinstance(outcome, _Pending)
            fresh = self._plan.consume(slot.number, outcome)
        except BaseException:
            self.close()
            raise
        if fresh is None:
            self.close()
            return None
        if self._plan.filled or self._plan.done:
            # `max_items` reached, or the records add up: what is still in
            # flight cannot be yielded.
            self.close()
            if self._plan.truncated:
                outcome = outcome.cut(fresh[-1])
        elif self._group is not None:
            self._start(self._group)
        return outcome, fresh

    def close(self) -> None:
        """Stop the walk: cancel every request in flight. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for slot in self._running:
            slot.scope.cancel()
        self._pending.clear()

    async def aclose(self) -> None:
        """`close()`, and return once every request it cancelled has ended."""
        running = list(self._running)
        self.close()
        for slot in running:
            await slot.done.wait()

    # -- producer side ---------------------------------------------------------

    def _claim(self, *, ahead: int, at_once: int) -> list[_Slot[I, P]]:
        """Register the pages that may start now: at most *at_once* unfinished
        and *ahead* not yet consumed."""
        slots = []
        plan = self._plan
        while not self._closed and len(self._running) < at_once and len(self._pending) < ahead:
            number = plan.startable()
            if number is None:
                break
            plan.started(number)
            slot: _Slot[I, P] = _Slot(number)
            self._pending.append(slot)
            self._running.add(slot)
            slots.append(slot)
        return slots

    def _start(self, group: TaskGroup) -> None:
        limit = AHEAD_PER_SLOT * self._concurrency
        for slot in self._claim(ahead=limit, at_once=self._concurrency):
            group.start_soon(self._run, slot, name=f"crowdtwist page {slot.number}")

    async def _fetch_window(self) -> None:
        # The window is what the plan allows now, up to `_window` pages,
        # fetched by `concurrency` workers: each takes the next page as soon
        # as it is free, so one slow page holds up one worker, not all.
        limit = self._window
        slots = self._claim(ahead=limit, at_once=limit)
        if len(slots) == limit:
            # A whole window: the consumer will have read all of it before it
            # asks for the next, so that one is the wide window (see
            # WIDE_WINDOW_PER_SLOT). Page 1 alone, or a followed link, is not.
            self._window = WIDE_WINDOW_PER_SLOT * self._concurrency
        if len(slots) == 1:
            # Page 1, a followed link, the page past the end: no task needed.
            await self._run(slots[0])
        elif slots:
            queue = iter(slots)
            async with anyio.create_task_group() as group:
                for worker in range(min(self._concurrency, len(slots))):
                    group.start_soon(self._work, queue, name=f"crowdtwist pages {worker}")

    async def _work(self, queue: Iterator[_Slot[I, P]]) -> None:
        for slot in queue:
            await self._run(slot)

    async def _run(self, slot: _Slot[I, P]) -> None:
        try:
            # A task starts after `start_soon` returns: the page may have been
            # cut off, or the walk closed, in between. Then it asks for nothing
            # (a request that never awaits would not notice the cancellation).
            with slot.scope:
                if slot.scope.cancel_called:
                    return
                try:
                    slot.outcome = await self._fetch(slot.number)
                except Exception as exc:
                    # Handed to the consumer, who raises it once every page
                    # before this one has been yielded.
                    slot.outcome = exc
        finally:
            self._running.discard(slot)
            if not self._closed:
                self._arrived(slot)
            slot.done.set()

    def _arrived(self, slot: _Slot[I, P]) -> None:
        outcome = slot.outcome
        if isinstance(outcome, _Pending):
            return  # cut off: it comes after the end
        if isinstance(outcome, BaseException):
            self._cut_after(slot.number)
        else:
            try:
                ends = self._plan.arrived(slot.number, outcome)
            except IncompleteListingError as exc:
                # The first page cannot be counted from: handed to the consumer.
                slot.outcome, ends = exc, True
            if ends:
                self._cut_after(slot.number)
        if self._group is not None:
            self._start(self._group)

    def _cut_after(self, number: int) -> None:
        self._plan.cut(number)
        while self._pending and self._pending[-1].number > number:
            self._pending.pop().scope.cancel()


class _ChainedWalk(Generic[I, P]):
    """Several walks read one after the other as one listing: a range of
    dates the API takes at most a year of, read a window at a time.

    Each window is walked, and checked for completeness, as a listing of its
    own; `max_items` counts across them. Page numbers start again in each
    window, so only the first window can be resumed by page.
    """

    def __init__(
        self,
        fetches: Sequence[FetchPage[I, P]],
        *,
        walk: Walk,
        key: Key[I] | None,
        noun: str,
    ) -> None:
        self._fetches = deque(fetches)
        self._walk = walk
        self._key = key
        self._noun = noun
        self._yielded = 0
        self._group: TaskGroup | None = None
        self._closed = False
        self._first = True
        self._current = self._next_walk()

    def _next_walk(self) -> _PageWalk[I, P]:
        walk = self._walk
        if walk.max_items is not None:
            walk = attrs.evolve(walk, max_items=walk.max_items - self._yielded)
        current = _PageWalk(
            self._fetches.popleft(),
            concurrency=walk.max_concurrency,
            plan=_Plan(walk, key=self._key, noun=self._noun),
        )
        current.host(self._group)
        return current

    @property
    def page_count(self) -> int | None:
        """The current window's page count: the listing's is not known ahead."""
        return self._current.page_count if self._first and not self._fetches else None

    @property
    def resume_page(self) -> int | None:
        self.check_resumable()
        return self._current.resume_page

    def check_resumable(self) -> None:
        """Refuse to say a page to go on from, past the first window."""
        if not self._first and (self._fetches or self._current.resume_page is not None):
            raise ValueError(
                f"this listing reads its date range a year at a time and is past the first "
                f"year: page numbers start again in each, so it cannot go on by page; "
                f"make a new one whose date_end is the date of the last of the {self._noun} read"
            )

    @property
    def stuck(self) -> bool:
        return self._current.stuck

    @property
    def page_size(self) -> int:
        return self._current.page_size

    def host(self, group: TaskGroup | None) -> None:
        self._group = group
        self._current.host(group)

    async def next_page(self) -> tuple[Page[I, P], list[I]] | None:
        while True:
            got = await self._current.next_page()
            if got is not None:
                self._yielded += len(got[1])
                return got
            limit = self._walk.max_items
            if self._closed or not self._fetches or (limit is not None and self._yielded >= limit):
                return None
            self._first = False
            self._current = self._next_walk()

    def close(self) -> None:
        self._closed = True
        self._current.close()

    async def aclose(self) -> None:
        self._closed = True
        await self._current.aclose()


class AsyncPaginator(Generic[T]):
    """An async iterator over every item of a paginated listing, in page order.

    Pages are fetched concurrently, at most `max_concurrency` requests at a
    time, in either of two forms:

    ```python
    # Plain: a call that needs a page fetches the next window of pages (up
    # to 2 x max_concurrency, then up to 8 x while you keep reading), then
    # returns.
    async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
        ...

    # Entered: pages keep arriving while you work (up to 4 x max_concurrency
    # ahead); leaving the block cancels what still runs.
    async with session.users.aiter_rewards("alice@example.com", id_type="email") as rewards:
        async for reward in rewards:
            ...
    ```

    The plain form leaves nothing running between items, so `break`, an
    exception or a cancellation costs nothing but the window's pages read
    past it (at most 2 x max_concurrency - 1 in the first window, 8 x - 1
    after); it waits for the slowest page of each window. The entered form
    suits long listings and slow consumers.

    The listing checks what its first page announced: an error on page N, or
    a page that comes back short of the announced total, is raised after the
    items of the pages before N have been yielded; the listing never ends
    early quietly. `resume_page` says where a new listing would go on.
    """

    def __init__(
        self,
        fetch: FetchPage[I, P],
        *,
        walk: Walk,
        select: Select[I, P, T],
        key: Key[I] | None = None,
        noun: str = "items",
        report: Report | None = None,
        then: Sequence[FetchPage[I, P]] = (),
    ) -> None:
        self._walk: _PageWalk[Any, Any] | _ChainedWalk[Any, Any]
        if then:
            # Walks read after the first, as one listing (`_ChainedWalk`).
            self._walk = _ChainedWalk((fetch, *then), walk=walk, key=key, noun=noun)
        else:
            plan = _Plan(walk, key=key, noun=noun)
            self._walk = _PageWalk(fetch, concurrency=walk.max_concurrency, plan=plan)
        self._select: Select[Any, Any, T] = select
        self._batch: Sequence[T] = ()
        self._index = 0  # of the next item of `_batch` to hand out
        self._batch_page = walk.start_page  # the page `_batch` came from
        self._handed = 0  # items of the batches before `_batch`
        self._group: TaskGroup | None = None
        self._entered = False
        self._busy = False
        self._pages_read = 0
        self._report = report
        self._noun = noun
        # Entered, the report waits for the block's end: requests may still
        # be finishing in its task group until then.
        self._ending: tuple[Outcome, BaseException | None] | None = None
        # What ended the walk when it raised or was cancelled: iterating again
        # raises again rather than ending as if the listing were whole.
        self._failure: BaseException | None = None

    def __aiter__(self) -> AsyncPaginator[T]:
        return self

    async def __anext__(self) -> T:
        index = self._index
        batch = self._batch
        if index < len(batch):
            self._index = index + 1
            return batch[index]
        while True:
            if self._busy:
                raise RuntimeError("this listing is already being read by another task")
            if self._failure is not None:
                self._raise_again(self._failure)
            self._busy = True
            try:
                got = await self._walk.next_page()
            except BaseException as exc:
                self._walk.close()
                self._failure = exc
                self._finish("cancelled" if _is_cancellation(exc) else "error", exc)
                raise
            finally:
                self._busy = False
            if got is None:
                self._finish("complete", None)
                raise StopAsyncIteration
            page, fresh = got
            self._pages_read += 1
            self._handed += len(self._batch)
            batch = self._select(page, fresh)
            self._batch = batch
            self._batch_page = page.number
            if batch:
                self._index = 1
                return batch[0]
            self._index = 0

    def _raise_again(self, failure: BaseException) -> None:
        """Iterating a listing that raised raises the same error again; one
        that was cancelled cannot go on (its pages in flight were dropped)."""
        if isinstance(failure, Exception):
            raise failure
        raise RuntimeError(
            f"this listing was cancelled after {self._handed + self._index} {self._noun}; "
            "its pages in flight were dropped, so it cannot go on: make a new one "
            "with start_page=listing.resume_page"
        )

    @property
    def pages_read(self) -> int:
        """How many pages have been handed to you so far (for progress bars)."""
        return self._pages_read

    @property
    def page_count(self) -> int | None:
        """How many pages the listing is expected to have.

        None until its first page has arrived, or when the API does not say.
        """
        return self._walk.page_count

    @property
    def resume_page(self) -> int | None:
        """The page to pass as `start_page` to go on after the items you have had.

        Before the first item it is the listing's `start_page`; after an
        error on page N, N. A page you had only some items of is the page
        itself, so going on yields those again (a batch job makes its writes
        idempotent, or takes `max_items` in multiples of the page size).
        None once the listing is known to hold nothing more.

        Raises:
            ValueError: if `max_items` ended the listing inside its first page
                (the server's pages hold more than `max_items`): going on from
                there would yield the same items again, for ever; or if a
                listing read a year at a time is past its first year (page
                numbers start again in each).

        Example:
            ```python
            listing = session.users.aiter_rewards(
                "alice@example.com", id_type="email", max_items=100, start_page=checkpoint
            )
            async for reward in listing:
                save(reward)
            checkpoint = listing.resume_page  # None: done
            ```
        """
        walk = self._walk
        if isinstance(walk, _ChainedWalk):
            walk.check_resumable()
        if self._index < len(self._batch):
            return self._batch_page
        if self._walk.stuck:
            raise ValueError(
                f"max_items ended this listing inside page {self._batch_page}, its first page "
                f"(of {self._walk.page_size} {self._noun}): going on from there would read the "
                f"same {self._noun} again. Take max_items of at least a page, or pass a "
                "page_size no larger than max_items"
            )
        return self._walk.resume_page

    async def aclose(self) -> None:
        """End the listing: iteration yields nothing more.

        The requests in flight are cancelled, and have ended when this
        returns. It sends no request and raises nothing of its own.
        """
        self._batch = self._batch[: self._index]
        await self._walk.aclose()
        self._finish("stopped", None)

    def __del__(self) -> None:
        # A plain `async for` left with `break` is never told it ended: it is
        # reported when the listing is collected.
        if self._report is not None:
            self._finish("stopped", None)

    def _finish(self, outcome: Outcome, error: BaseException | None) -> None:
        report = self._report
        if report is not None and self._group is not None:
            if self._ending is None:
                self._ending = (outcome, error)
        elif report is not None:
            self._report = None
            report.finish(
                outcome, pages=self._pages_read, items=self._handed + self._index, error=error
            )

    async def __aenter__(self) -> AsyncPaginator[T]:
        if self._entered:
            raise RuntimeError("this listing has already been entered")
        self._entered = True
        # Entered by hand and left in __aexit__, in the same task: the group
        # spans the caller's block, which is what an owner of background work
        # does (trio's `as_safe_channel` has the same shape).
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        self._walk.host(group)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ending = self._ending or ("stopped", None)
        self._walk.close()
        self._walk.host(None)
        group, self._group = self._group, None
        assert group is not None
        group.cancel_scope.cancel()
        # The page tasks never raise (they hand errors to the consumer), so the
        # group has nothing to report. What the block raised is not passed in:
        # the group would wrap it in an ExceptionGroup, and an `except
        # NotFoundError` around the block would no longer catch it.
        try:
            await group.__aexit__(None, None, None)
        finally:
            # Also when a cancellation of the block's own comes out of the
            # group, once its tasks have ended.
            self._finish(*ending)


def _is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, anyio.get_cancelled_exc_class())
