"""The concurrent, bounded, ordered page walker behind `aiter_rewards`.

Design: page requests run as tasks in a task group that outlives any single
`__anext__` (the Session's, or the paginator's own when it is used with
`async with`), and the consumer waits for the next page in order. Nothing here
yields from inside a task group or cancel scope: `AsyncPaginator` is a plain
class, so `break` works the same on asyncio and trio. The price of a class is
that `break` calls nothing, so an abandoned paginator is noticed by a
finalizer, which cancels its requests from the event loop's next turn.

Which page to ask for next is decided here, never by the links the API
returns: they point at the wrong host and path in the vendor's own sample.
`paging.pages` (when usable) lets pages 2..N be fetched concurrently; without
it, the walker follows the *page number* in `next_page`, one page at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Final, Generic, TypeVar, cast

import anyio

from ._exceptions import ListingChangedError
from ._models import Reward, RewardsPage

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

T = TypeVar("T")

#: Fetch one page by number; None means the API said the listing is empty.
FetchPage = Callable[[int], Awaitable["RewardsPage | None"]]

#: How many pages, per allowed request in flight, may be started ahead of the
#: consumer (in flight plus fetched but not yet consumed). 2 lets a slow page
#: at the head of the window overlap with the next ones, while memory stays
#: bounded by the concurrency, not by the listing's size.
AHEAD_PER_SLOT: Final = 2


class _Pending:
    """Marks a page whose request has not finished."""


_PENDING: Final = _Pending()


class _Slot:
    """One page of one iteration: its request's cancel scope and its outcome."""

    __slots__ = ("done", "number", "outcome", "scope")

    def __init__(self, number: int) -> None:
        self.number = number
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        self.outcome: RewardsPage | BaseException | _Pending | None = _PENDING


class _PageWalk:
    """The state of one iteration, shared by the consumer and the page tasks.

    Invariants: pages are started in increasing order and consumed in the
    same order (the `pending` deque); at most `concurrency` are in flight and
    at most `ahead` are started but not consumed; no page is started twice.
    """

    def __init__(self, fetch: FetchPage, *, concurrency: int) -> None:
        self._fetch = fetch
        self._concurrency = concurrency
        self._ahead = AHEAD_PER_SLOT * concurrency
        self._pending: deque[_Slot] = deque()
        self._running: set[_Slot] = set()
        self._next_start = 1
        # Page 1 is always asked for first; after it, either `paging.pages`
        # (the limit) or the number in `next_page` (the follow target) says
        # which pages may be started.
        self._follow: int | None = 1
        self._limit: int | None = None
        self._end: int | None = None
        # The total page 1 reported: a later page reporting fewer means the
        # listing shrank under us.
        self._total: int | None = None
        self._closed = False
        self._closed_error: BaseException | None = None
        self._task_group: TaskGroup | None = None
        self._call_soon: Callable[[Callable[[], object]], object] | None = None

    # -- consumer side ---------------------------------------------------------

    async def next_page(self, task_group: TaskGroup) -> RewardsPage | None:
        """The next non-empty page in order, or None when the listing is over."""
        if self._closed_error is not None:
            raise self._closed_error
        if self._closed:
            return None
        if self._task_group is None:
            self._task_group = task_group
            self._call_soon = _loop_call_soon()
        self._schedule()
        if not self._pending:
            self.close()
            return None
        slot = self._pending[0]
        await slot.done.wait()
        if self._pending and self._pending[0] is slot:
            self._pending.popleft()
        outcome = slot.outcome
        if isinstance(outcome, BaseException):
            self.close()
            raise outcome
        if outcome is None or isinstance(outcome, _Pending) or not outcome.rewards:
            self.close()
            return None
        self._schedule()
        return outcome

    @property
    def page_count(self) -> int | None:
        """The number of pages the listing reports, once known (None before)."""
        return self._limit

    def close(self) -> None:
        """Stop the iteration: cancel every request in flight. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for slot in self._running:
            slot.scope.cancel()
        self._pending.clear()

    def close_soon(self) -> None:
        """`close()` from a finalizer: run it at the event loop's next turn.

        A garbage collector pass may run in the middle of the event loop's own
        bookkeeping, so cancelling there directly is not safe.
        """
        if self._closed or self._call_soon is None:
            return
        # If the event loop is gone, every task of this iteration went with it.
        with contextlib.suppress(RuntimeError):
            self._call_soon(self.close)

    # -- producer side ---------------------------------------------------------

    def _schedule(self) -> None:
        assert self._task_group is not None
        while (
            not self._closed
            and len(self._running) < self._concurrency
            and len(self._pending) < self._ahead
        ):
            number = self._next_start
            if self._end is not None and number > self._end:
                return
            if number != self._follow and (self._limit is None or number > self._limit):
                return
            self._next_start = number + 1
            self._follow = None
            slot = _Slot(number)
            self._pending.append(slot)
            self._running.add(slot)
            self._task_group.start_soon(self._run, slot, name=f"crowdtwist page {number}")

    async def _run(self, slot: _Slot) -> None:
        try:
            with slot.scope:
                try:
                    slot.outcome = await self._fetch(slot.number)
                except Exception as exc:
                    # Handed to the consumer, who raises it once every page
                    # before this one has been yielded.
                    slot.outcome = exc
        finally:
            self._running.discard(slot)
            if isinstance(slot.outcome, _Pending) and not slot.scope.cancel_called:
                # Cancelled from outside the iteration: the task group that
                # hosts it (the Session's, or the paginator's block) is closing.
                self._abort(RuntimeError("the Session was closed while the listing was read"))
            elif not self._closed:
                self._arrived(slot)
            slot.done.set()

    def _arrived(self, slot: _Slot) -> None:
        outcome, number = slot.outcome, slot.number
        if isinstance(outcome, RewardsPage) and outcome.total is not None:
            if self._total is None:
                self._total = outcome.total
            elif outcome.total < self._total:
                # Rewards before this page may have moved onto pages already
                # read: say so here rather than end the listing short.
                slot.outcome = outcome = ListingChangedError(
                    page=number, expected_total=self._total, total=outcome.total
                )
        if isinstance(outcome, BaseException | _Pending) or outcome is None or not outcome.rewards:
            # An error or an empty page: nothing after it will be consumed.
            self._cut_after(number)
        elif outcome.pages is not None and outcome.pages >= 1:
            # The total may grow while we read; pages past a shrunken end come
            # back empty, which ends the walk, so the larger figure is safe.
            self._limit = max(self._limit or 0, outcome.pages)
        elif self._limit is None:
            target = outcome.next_page
            # A link back to this page or an earlier one would loop forever.
            if target is not None and target > number and target >= self._next_start:
                self._next_start = target
                self._follow = target
        self._schedule()

    def _cut_after(self, number: int) -> None:
        self._end = number if self._end is None else min(self._end, number)
        while self._pending and self._pending[-1].number > number:
            dropped = self._pending.pop()
            dropped.scope.cancel()

    def _abort(self, error: BaseException) -> None:
        if self._closed_error is None:
            self._closed_error = error
        for slot in self._pending:
            if isinstance(slot.outcome, _Pending):
                slot.outcome = error
            slot.done.set()
        self.close()


class AsyncPaginator(Generic[T]):
    """An async iterator over every item of a paginated listing.

    Pages are fetched concurrently (at most `max_concurrency` requests in
    flight, at most twice that many pages ahead of you), and items come out
    in page order. Use it with plain `async for` inside an entered `Session`,
    or enter the paginator itself to scope its requests to a block, which
    also works with a Session that was never entered:

    ```python
    async with session.users.aiter_rewards("alice@example.com", id_type="email") as rewards:
        async for reward in rewards:
            ...
    ```

    Leaving the loop early (`break`, an exception, cancellation) stops every
    request of the listing. An error on page N is raised after the items of
    pages 1..N-1 have been yielded; the listing never ends early and quietly.
    """

    def __init__(
        self,
        fetch: FetchPage,
        *,
        max_concurrency: int,
        host: Callable[[], TaskGroup],
        select: Callable[[RewardsPage], Iterable[T]],
    ) -> None:
        self._walk = _PageWalk(fetch, concurrency=max_concurrency)
        self._host = host
        self._select = select
        self._items: Iterator[T] = iter(())
        self._own_group: TaskGroup | None = None
        self._entered = False
        self._busy = False
        self._pages_read = 0
        # The walk never refers back to this object, so dropping the paginator
        # (a `break` out of `async for`) runs this at once under CPython.
        weakref.finalize(self, self._walk.close_soon)

    def __aiter__(self) -> AsyncPaginator[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            for item in self._items:
                return item
            group = self._own_group if self._own_group is not None else self._host()
            if self._busy:
                raise RuntimeError("this listing is already being read by another task")
            self._busy = True
            try:
                page = await self._walk.next_page(group)
            except BaseException:
                self._walk.close()
                raise
            finally:
                self._busy = False
            if page is None:
                raise StopAsyncIteration
            self._pages_read += 1
            self._items = iter(self._select(page))

    @property
    def pages_read(self) -> int:
        """How many pages have been handed to you so far (for progress bars)."""
        return self._pages_read

    @property
    def page_count(self) -> int | None:
        """How many pages the listing has, as the API reports it; None until
        page 1 has arrived, or when the API does not say."""
        return self._walk.page_count

    async def aclose(self) -> None:
        """Stop fetching. Requests in flight are cancelled; further iteration ends."""
        self._walk.close()

    async def __aenter__(self) -> AsyncPaginator[T]:
        if self._entered:
            raise RuntimeError("this paginator has already been entered")
        self._entered = True
        self._own_group = await open_task_group()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._walk.close()
        group, self._own_group = self._own_group, None
        assert group is not None
        await close_task_group(group)


class NewRewards:
    """Selects the rewards of a page not yet yielded in this iteration.

    Pages can shift while they are read (a reward added before page 3 pushes
    one from page 3 onto page 4), so the same id can arrive twice.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, page: RewardsPage) -> list[Reward]:
        seen = self._seen
        fresh = []
        for reward in page.rewards:
            if reward.id not in seen:
                seen.add(reward.id)
                fresh.append(reward)
        return fresh


def whole_page(page: RewardsPage) -> tuple[RewardsPage]:
    """Select a page as the one item it yields (for `aiter_reward_pages`)."""
    return (page,)


async def open_task_group() -> TaskGroup:
    """Enter a new task group, to be left with `close_task_group` in the same task.

    For objects whose `async with` hosts background tasks (the Session, an
    entered listing): the group spans the caller's block.
    """
    group = anyio.create_task_group()
    await group.__aenter__()
    return group


async def close_task_group(group: TaskGroup) -> None:
    """Cancel what still runs in *group* and leave it.

    The page tasks never raise (they hand errors to their listing), so the
    group has nothing to report. Whatever the `async with` body raised is not
    passed in: the group would wrap it in an ExceptionGroup, and a caller's
    `except NotFoundError` outside the block would no longer catch it.
    """
    group.cancel_scope.cancel()
    await group.__aexit__(None, None, None)


def _loop_call_soon() -> Callable[[Callable[[], object]], object]:
    """A thread-safe way to run a callback in the current event loop."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return cast(
            "Callable[[Callable[[], object]], object]",
            trio.lowlevel.current_trio_token().run_sync_soon,
        )
    return asyncio.get_running_loop().call_soon_threadsafe
