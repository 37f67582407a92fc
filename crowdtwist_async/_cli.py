"""The `crowdtwist-async` command: a member's profile, points, activity and
redemption history, rewards or coupons, as data on stdout. It only reads.

stdout carries only the data (a table, JSON, NDJSON or CSV), so the output can
be piped; progress and errors go to stderr. Exit codes: 0 success, 1 any
other failure, 2 usage, 3 authentication, 4 not found.

Server text (titles, descriptions, coupon codes, error messages) cannot act
on a terminal: the characters a terminal would obey or hide rather than show
(controls, DEL, C1, bidi overrides, isolates and marks, line and paragraph
separators, and the other Unicode format characters but the joiners ZWJ and
ZWNJ; see `_ESCAPED_CATEGORIES`) are escaped. json and ndjson always write
them as `\\uXXXX`, which any JSON reader decodes back to the same text; the
table, error lines and csv on a terminal show them as Python escapes
(`\\x1b`, `\\u202e`); csv written to a file or pipe keeps the exact text,
but for NUL, which csv cannot carry on every supported Python (`\\x00`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import sys
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from datetime import date
from functools import cache
from typing import IO, TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

import anyio

from ._config import DEFAULT_LIMITS, DEFAULT_RETRIES, DEFAULT_TIMEOUT
from ._converter import to_dict
from ._exceptions import APIError, AuthenticationError, CrowdTwistError, NotFoundError
from ._listing import ListingOptions
from ._models import IdType
from ._pagination import AsyncPaginator
from ._protocol import MAX_PAGE_SIZE
from ._session import HttpBackend, Session
from ._version import __version__

if TYPE_CHECKING:
    from rich.progress import Progress

    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["main", "run"]

T = TypeVar("T")

PROG: Final = "crowdtwist-async"
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_NOT_FOUND: Final = 4
EXIT_INTERRUPTED: Final = 130

CLI_HINT: Final = (
    'the table format needs rich: pip install "crowdtwist-async[cli]" '
    "(or use --format json, ndjson or csv)"
)

#: Columns of the table format; the other formats carry every field.
REWARD_COLUMNS: Final = (
    ("ID", "id"),
    ("Title", "title"),
    ("Points", "num_points"),
    ("Left", "current_quantity"),
    ("Starts", "date_start"),
    ("Ends", "date_end"),
)
COUPON_COLUMNS: Final = (
    ("Code", "code"),
    ("Reward", "reward_title"),
    ("Points", "total_points_redeemed"),
    ("Category", "coupon_category_name"),
    ("Expires", "date_to_expire"),
    ("Ordered", "order_date_created"),
)
USER_COLUMNS: Final = (
    ("ID", "id"),
    ("First name", "first_name"),
    ("Last name", "last_name"),
    ("Email", "email_address"),
    ("Level", "fan_level"),
    ("Points", "redeemable_points"),
    ("Joined", "date_created"),
)
POINTS_COLUMNS: Final = (
    ("ID", "id"),
    ("Redeemable", "redeemable_points"),
    ("Total", "total_points"),
    ("Purchased", "num_points_purchased"),
    ("Level", "fan_level"),
)
ACTIVITY_COLUMNS: Final = (
    ("ID", "id"),
    ("Activity", "activity_id"),
    ("Name", "name"),
    ("Points", "num_points"),
    ("Awarded", "date_awarded"),
    ("Notes", "notes"),
)
REDEMPTION_COLUMNS: Final = (
    ("ID", "id"),
    ("Reward", "reward_id"),
    ("Title", "reward_title"),
    ("Points", "points"),
    ("Quantity", "quantity"),
    ("Status", "status"),
    ("Redeemed", "date_redeemed"),
)


_WRAPPING: Final = frozenset({"title", "reward_title", "coupon_category_name", "name", "notes"})
#: What --date-start and --date-end take: `date.fromisoformat` alone would
#: take other ISO forms too (20250131, 2025-W05-5) on Python 3.11+.
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: What a terminal would act on, or hide, rather than show: controls (Cc: C0
#: with newline and tab, DEL, C1), format characters (Cf: the bidi overrides,
#: isolates and marks, which make text display in an order other than the one
#: it is in; zero-width and invisible characters; tags), the line and paragraph
#: separators (Zl, Zp), and lone surrogates (Cs), which no UTF-8 stream carries.
_ESCAPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Format characters kept as they are: ZWNJ and ZWJ only join letters (Persian,
#: Indic scripts) or emoji (👩\u200d💻), and move nothing.
_JOINERS: Final = frozenset({"\u200c", "\u200d"})
#: The characters that may need escaping, each then judged by its category (so
#: the rule follows Python's Unicode database): all but printable ASCII and the
#: blocks without a character of those categories (Latin to Hebrew, Indic to
#: Khmer, CJK, Hangul...), which would otherwise cost a call per character.
#: tests/test_cli.py checks the ranges against every BMP character.
_CANDIDATE: Final = re.compile(
    r"[^\x20-\x7e\xa0-\xac\xae-\u05ff\u0900-\u17ff\u1900-\u1fff\u2070-\u2bff"
    r"\u2e00-\ud7ff\ue000-\ufefe\uff00-\ufff8]"
)


class UsageError(Exception):
    """A mistake in the command line that argparse cannot see."""


class OutputEncodingError(Exception):
    """stdout's encoding cannot carry the data (e.g. PYTHONIOENCODING=ascii)."""


def _page_size(text: str) -> int:
    value = _integer(text)
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PAGE_SIZE}, got {value}")
    return value


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _date(text: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass  # 2025-02-30: the form, but no such day
    raise argparse.ArgumentTypeError(f"not a date as YYYY-MM-DD: {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """The command line: `rewards`, `coupons`, `user`, `points`, `activities`
    and `redemptions`, each of a USER_ID, with their options."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read a CrowdTwist member's profile, points, activity or redemption "
        "history, rewards or usable coupons.",
        epilog="Try it without an account: crowdtwist-async rewards alice@example.com "
        "--id-type email --sandbox",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = _common_options()
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_rewards(commands, common)
    _add_coupons(commands, common)
    _add_member_commands(commands, common)
    return parser


def _common_options() -> argparse.ArgumentParser:
    """The arguments every command takes: the member, the output, the connection."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("user_id", metavar="USER_ID", help="the member, as --id-type says")
    common.add_argument(
        "--id-type",
        choices=[t.value for t in IdType],
        help="what USER_ID is (the API's default: id, the CrowdTwist id)",
    )
    common.add_argument(
        "--format",
        choices=["table", "json", "ndjson", "csv"],
        default="table",
        dest="fmt",
        help="(default: %(default)s) Server text cannot drive the terminal: controls, "
        "bidi and other invisible format characters, U+2028 and U+2029 are written as "
        "\\uXXXX in json and ndjson (the same text once decoded), and shown as escapes "
        "such as \\x1b or \\u202e in the table, in error messages, and in csv on a "
        "terminal; csv to a file or a pipe is exact, but for NUL (written \\x00)",
    )
    common.add_argument(
        "--api-key",
        help="the API key (default: $CROWDTWIST_API_KEY; the environment keeps it out of ps)",
    )
    common.add_argument(
        "--base-url", help="e.g. https://api123.crowdtwist.com (default: $CROWDTWIST_BASE_URL)"
    )
    common.add_argument(
        "--sandbox",
        action="store_true",
        help="use the built-in FakeCrowdTwist: no account, no network",
    )
    common.add_argument(
        "--timeout",
        type=float,
        help=f"seconds per attempt (default: {DEFAULT_TIMEOUT.total:g})",
    )
    common.add_argument(
        "--max-retries",
        type=int,
        default=DEFAULT_RETRIES.max_retries,
        help="(default: %(default)s)",
    )
    common.add_argument(
        "--http-backend",
        choices=["auto", "httpx", "aiohttp"],
        default="auto",
        help="the HTTP stack; auto: aiohttp when it is installed, else httpx "
        "(default: %(default)s)",
    )
    return common


def _add_rewards(commands: _Commands, common: argparse.ArgumentParser) -> None:
    rewards = commands.add_parser(
        "rewards", parents=[common], help="every reward available to the member"
    )
    _add_listing_options(rewards, "rewards")
    rewards.add_argument("--include-soldout", action="store_true", help="include sold-out rewards")


def _add_coupons(commands: _Commands, common: argparse.ArgumentParser) -> None:
    coupons = commands.add_parser("coupons", parents=[common], help="the member's unused coupons")
    coupons.add_argument(
        "--expired",
        choices=["true", "false"],
        help="ask for expired coupons too (true) or not (false); default: the API's choice",
    )


def _add_member_commands(commands: _Commands, common: argparse.ArgumentParser) -> None:
    user = commands.add_parser("user", parents=[common], help="the member's profile")
    user.add_argument(
        "--no-pii",
        action="store_true",
        help="ask for the profile without personal data (pii=false; CrowdTwist then "
        "takes only --id-type id or third_party_id)",
    )
    commands.add_parser("points", parents=[common], help="the member's redeemable and total points")
    activities = commands.add_parser(
        "activities", parents=[common], help="the activities the member was credited for"
    )
    _add_listing_options(activities, "activities")
    redemptions = commands.add_parser(
        "redemptions", parents=[common], help="the rewards the member redeemed"
    )
    redemptions.add_argument(
        "--date-start",
        type=_date,
        metavar="YYYY-MM-DD",
        help="the first day (UTC) to list; default: a year before --date-end when that "
        "is given. With neither date, the server chooses the range",
    )
    redemptions.add_argument(
        "--date-end",
        type=_date,
        metavar="YYYY-MM-DD",
        help="the last day (UTC) to list, included; default: today when --date-start is "
        "given. A range over a year is read a year at a time",
    )
    _add_listing_options(redemptions, "redemptions")


def _add_listing_options(command: argparse.ArgumentParser, noun: str) -> None:
    _add_page_size(command, noun)
    command.add_argument(
        "--max-items", type=_positive, help=f"stop after this many {noun} (default: all)"
    )
    _add_concurrency(command)


def _add_page_size(command: argparse.ArgumentParser, noun: str) -> None:
    command.add_argument("--page-size", type=_page_size, help=f"{noun} per page, 1-{MAX_PAGE_SIZE}")


def _add_concurrency(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--max-concurrency",
        type=_positive,
        default=DEFAULT_LIMITS.max_concurrency,
        help="pages fetched at once (default: %(default)s)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return anyio.run(_command, args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        _fail(f"{exc}")
        return EXIT_USAGE
    except OutputEncodingError as exc:
        _fail(str(exc))
        return EXIT_ERROR
    except (ValueError, TypeError) as exc:
        # The SDK checks its arguments before any request.
        _fail(str(exc))
        return EXIT_USAGE
    except AuthenticationError as exc:
        _fail(_describe(exc))
        return EXIT_AUTH
    except NotFoundError as exc:
        _fail(_describe(exc))
        return EXIT_NOT_FOUND
    except CrowdTwistError as exc:
        _fail(_describe(exc))
        return EXIT_ERROR
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C. On Python 3.10, anyio's runner cancels the main task and the
        # CancelledError comes out of run() instead of a KeyboardInterrupt.
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours. Point stdout
        # at devnull so the interpreter's final flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


def _describe(exc: CrowdTwistError) -> str:
    if isinstance(exc, APIError):
        code = f"{exc.error}: " if exc.error else ""
        return f"{code}{exc.message} (HTTP {exc.status_code})"
    return f"{type(exc).__name__}: {exc}"


def _fail(message: str) -> None:
    # Messages carry server text (an APIError's message), and stderr is
    # usually a terminal.
    print(f"{PROG}: error: {_visible(message)}", file=sys.stderr)


def _visible(text: str) -> str:
    """*text* with the characters a terminal would act on escaped, e.g. ESC as `\\x1b`."""
    return _CANDIDATE.sub(lambda match: _shown(match.group()), text)


def _escaped(char: str) -> bool:
    return unicodedata.category(char) in _ESCAPED_CATEGORIES and char not in _JOINERS


@cache
def _shown(char: str) -> str:
    """*char* as `_visible` writes it: itself, or its Python escape."""
    return char.encode("unicode_escape").decode("ascii") if _escaped(char) else char


@cache
def _json_shown(char: str) -> str:
    """*char* as `_json` writes it: itself, or its JSON escape (a surrogate pair above U+FFFF)."""
    return json.dumps(char)[1:-1] if _escaped(char) else char


def _json(value: object) -> str:
    """*value* as JSON text, escaped as `\\uXXXX` where a terminal would act on it.

    Exact all the same: any JSON reader decodes the escapes back to the same
    characters. json.dumps escapes only C0 itself, and outside strings it
    writes nothing but ASCII, so escaping the whole text touches strings only.
    """
    return _CANDIDATE.sub(
        lambda match: _json_shown(match.group()), json.dumps(value, ensure_ascii=False)
    )


async def _command(args: argparse.Namespace) -> int:
    async with _session(args) as session:
        await _COMMANDS[args.command](session, args, sys.stdout)
    return 0


async def _rewards(session: Session, args: argparse.Namespace, out: IO[str]) -> None:
    listing = session.users.aiter_rewards(
        args.user_id,
        id_type=args.id_type,
        include_soldout=args.include_soldout,
        **_listing_options(args),
    )
    await _write_listing(args.fmt, listing, REWARD_COLUMNS, out)


async def _coupons(session: Session, args: argparse.Namespace, out: IO[str]) -> None:
    expired = None if args.expired is None else args.expired == "true"
    coupons = await session.users.usable_coupons(
        args.user_id, id_type=args.id_type, expired=expired
    )
    await _write(args.fmt, _aiter(coupons), COUPON_COLUMNS, out)


async def _user(session: Session, args: argparse.Namespace, out: IO[str]) -> None:
    # Printed without `unknown_fields` (to_dict's default): they hold the
    # credentials a profile carries (access tokens, password hash, salt).
    user = await session.users.get(
        args.user_id, id_type=args.id_type, pii=False if args.no_pii else None
    )
    await _write(args.fmt, _aiter([user]), USER_COLUMNS, out)


async def _points(session: Session, args: argparse.Namespace, out: IO[str]) -> None:
    points = await session.users.get_points(args.user_id, id_type=args.id_type)
    await _write(args.fmt, _aiter([points]), POINTS_COLUMNS, out)


async def _activities(session: Session, args: argparse.Namespace, out: IO[str]) -> None:
    listing = session.users.aiter_activity_history(
        args.user_id, id_type=args.id_type, **_listing_options(args)
    )
    await _write_listing(args.fmt, listing, ACTIVITY_COLUMNS, out)


async def _redemptions(session: Session, args: argparse.Namespace, out: IO[str]) -> None:
    start, end = args.date_start, args.date_end
    if start is not None and end is not None and end < start:
        raise UsageError(f"--date-end ({end}) is before --date-start ({start})")
    listing = session.users.aiter_redemptions(
        args.user_id,
        id_type=args.id_type,
        date_start=args.date_start,
        date_end=args.date_end,
        **_listing_options(args),
    )
    await _write_listing(args.fmt, listing, REDEMPTION_COLUMNS, out)


def _listing_options(args: argparse.Namespace) -> ListingOptions:
    return {
        "page_size": args.page_size,
        "max_items": args.max_items,
        "max_concurrency": args.max_concurrency,
    }


_COMMANDS: Final[
    Mapping[str, Callable[[Session, argparse.Namespace, IO[str]], Awaitable[None]]]
] = {
    "rewards": _rewards,
    "coupons": _coupons,
    "user": _user,
    "points": _points,
    "activities": _activities,
    "redemptions": _redemptions,
}


async def _write_listing(
    fmt: str, listing: AsyncPaginator[Any], columns: Sequence[tuple[str, str]], out: IO[str]
) -> None:
    """Write a listing's items, with a progress bar on a terminal's stderr."""
    # Entered here, in this task, and not in an async generator: its
    # task group fetches pages ahead while the writer works, and an
    # error from the writer (a broken pipe) leaves it in the same task.
    async with listing:
        progress = _progress()
        items = listing if progress is None else _Progressed(listing, progress)
        with nullcontext() if progress is None else progress:
            await _write(fmt, items, columns, out)


def _session(args: argparse.Namespace) -> Session:
    options: dict[str, Any] = {"max_retries": args.max_retries}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.sandbox:
        if args.http_backend == "aiohttp":
            raise UsageError(
                "--sandbox answers in memory through httpx; it cannot use --http-backend aiohttp"
            )
        from .testing import FakeCrowdTwist

        # A little latency, as over a network, so the concurrency shows.
        fake = FakeCrowdTwist(seed=0, latency=0.02, jitter=0.01)
        return Session(
            args.api_key or fake.api_key,
            base_url=fake.base_url,
            transport=fake.transport(),
            **options,
        )
    if not (args.api_key or os.environ.get("CROWDTWIST_API_KEY")):
        raise UsageError("no API key: pass --api-key, set CROWDTWIST_API_KEY, or try --sandbox")
    if not (args.base_url or os.environ.get("CROWDTWIST_BASE_URL")):
        raise UsageError("no base URL: pass --base-url, set CROWDTWIST_BASE_URL, or try --sandbox")
    return Session(
        args.api_key, base_url=args.base_url, http_backend=_http_backend(args), **options
    )


def _http_backend(args: argparse.Namespace) -> HttpBackend:
    """The stack --http-backend names; for auto, aiohttp when it can be imported.

    The command always runs on asyncio, where aiohttp spends less CPU per
    request.
    """
    if args.http_backend != "auto":
        return cast(HttpBackend, args.http_backend)
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return "httpx"
    return "aiohttp"


def _progress() -> Progress | None:
    """A progress bar on stderr, only when a person is watching it."""
    if not sys.stderr.isatty():
        return None
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    except ImportError:
        return None
    return Progress(
        TextColumn("pages"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )


class _Progressed(Generic[T]):
    """A listing's items, moving a progress bar (pages read / page count) along.

    A class rather than an async generator, so that nothing is left suspended
    for the event loop to finalise later when the consumer stops early.
    """

    def __init__(self, listing: AsyncPaginator[T], progress: Progress) -> None:
        self._listing = listing
        self._progress = progress
        self._task = progress.add_task("pages", total=None)

    def __aiter__(self) -> _Progressed[T]:
        return self

    async def __anext__(self) -> T:
        listing = self._listing
        try:
            item = await listing.__anext__()
        except StopAsyncIteration:
            # The API's page count may have been off: the bar ends full.
            self._progress.update(
                self._task, completed=listing.pages_read, total=listing.pages_read
            )
            raise
        self._progress.update(self._task, completed=listing.pages_read, total=listing.page_count)
        return item


async def _aiter(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def _write(
    fmt: str,
    items: AsyncIterator[Any],
    columns: Sequence[tuple[str, str]],
    out: IO[str],
) -> None:
    writer: Callable[..., Any] = {
        "json": _write_json,
        "ndjson": _write_ndjson,
        "csv": _write_csv,
        "table": _write_table,
    }[fmt]
    try:
        await writer(items, out, columns)
        out.flush()
    except UnicodeEncodeError as exc:
        # A ValueError, which main() would report as a usage mistake.
        raise OutputEncodingError(
            f"stdout's encoding ({exc.encoding}) cannot encode the output; "
            "set PYTHONIOENCODING=utf-8 or use a UTF-8 locale"
        ) from None


async def _write_ndjson(items: AsyncIterator[Any], out: IO[str], _: object) -> None:
    async for item in items:
        out.write(_json(to_dict(item)) + "\n")


async def _write_json(items: AsyncIterator[Any], out: IO[str], _: object) -> None:
    # Streamed, so a long listing is never held whole.
    out.write("[")
    first = True
    async for item in items:
        out.write("\n  " if first else ",\n  ")
        out.write(_json(to_dict(item)))
        first = False
    out.write("\n]\n" if not first else "]\n")


async def _write_csv(items: AsyncIterator[Any], out: IO[str], _: object) -> None:
    # Exact text for a file or a pipe; on a terminal, escaped as the table's
    # cells are (csv's quoting would let a newline or an ESC through).
    text: Callable[[str], str] = _visible if out.isatty() else _csv_exact
    writer: csv.DictWriter[str] | None = None
    async for item in items:
        row = {key: _csv_cell(value, text) for key, value in to_dict(item).items()}
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow(row)


def _csv_exact(text: str) -> str:
    """*text* as csv can carry it on every supported Python: as it is, but
    NUL, which Python 3.10's csv writer refuses (3.11 writes it raw), is
    written as `\\x00` on all of them."""
    return text.replace("\x00", "\\x00")


def _csv_cell(value: object, text: Callable[[str], str]) -> object:
    if isinstance(value, dict | list):
        return _json(value)  # escaped already, and exact when decoded
    if isinstance(value, str):
        return text(value)
    return value


async def _write_table(
    items: AsyncIterator[Any], out: IO[str], columns: Sequence[tuple[str, str]]
) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        raise UsageError(CLI_HINT) from None
    table = Table()
    for title, key in columns:
        # Only free text may wrap; ids, numbers and dates stay whole.
        table.add_column(title, no_wrap=key not in _WRAPPING)
    count = 0
    async for item in items:
        row = to_dict(item)
        # Text, not str: a str cell would be read as rich markup.
        table.add_row(*(Text(_cell(row[key])) for _, key in columns))
        count += 1
    # Piped, there is no terminal width to fit: don't squeeze to 80 columns.
    console = Console(file=out, width=None if out.isatty() else 160)
    with console.capture() as captured:
        console.print(table)
    # Written by us, not by rich (which turns a broken pipe into SystemExit(1)),
    # and a line at a time: an unbuffered stdout (PYTHONUNBUFFERED) would drop
    # the rest of one big write cut short by a reader leaving, without an error.
    out.writelines(captured.get().splitlines(keepends=True))
    Console(stderr=True).print(f"{count} {'row' if count == 1 else 'rows'}")


def _cell(value: object) -> str:
    """*value* as a table shows it, with what a terminal would act on escaped."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T":
        text = value[:16].replace("T", " ")  # an ISO date: minutes are enough here
    return _visible(text)
