"""`crowdtwist-async user|points|activities|redemptions`: a member's profile, points
and histories in every output format, against the sandbox and a served fake."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

import pytest

# Private on purpose: `main(argv)` is what the `crowdtwist-async` console
# script runs, here in process; the column lists say which fields the table shows.
from crowdtwist_async._cli import (
    ACTIVITY_COLUMNS,
    POINTS_COLUMNS,
    REDEMPTION_COLUMNS,
    USER_COLUMNS,
    main,
)
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist, FakeUser

from .test_cli_output import Stream

KEY = "cli-member-key-Tq83"
FORMATS = ["json", "ndjson", "csv", "table"]
ALICE = [SANDBOX_EMAIL, "--id-type", "email"]
#: The served fake's clock, fixed so that dates are exact.
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=timezone.utc)
#: Credentials a real profile carries beside its fields (API_PAGES §3).
SECRETS = {
    "password": "pw-hash-Zk29",
    "salt": "salt-Lq71",
    "facebook_access_token": "fb-token-Wd55",
    "twitter_oauth_token": "tw-token-Pe08",
    "twitter_oauth_token_secret": "tw-secret-Rs64",
    "pinterest_access_token": "pin-token-Gh12",
    "inst_access_token": "inst-token-Ny39",
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command's exit status, stdout and stderr, run in this process."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The last stderr line of a command line argparse refuses (exit status 2)."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err.splitlines()[-1]


def sandbox_alice() -> FakeUser:
    """The sample member, from a fake built as `--sandbox` builds its own."""
    fake = FakeCrowdTwist(seed=0, latency=0.02, jitter=0.01)
    return next(user for user in fake.users if user.email == SANDBOX_EMAIL)


def text(value: object) -> str:
    """A scalar as csv writes it, so that every format compares alike."""
    return "" if value is None else str(value)


def rows(fmt: str, out: str, columns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """The records *out* holds in format *fmt*, each field as text; the table's
    are its columns, keyed by field name."""
    if fmt == "json":
        return [{k: text(v) for k, v in record.items()} for record in json.loads(out)]
    if fmt == "ndjson":
        return [{k: text(v) for k, v in json.loads(line).items()} for line in out.splitlines()]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(out)))
    lines = out.splitlines()
    header = [cell.strip() for cell in next(ln for ln in lines if "┃" in ln).split("┃")[1:-1]]
    assert header == [title for title, _ in columns]
    keys = [key for _, key in columns]
    body = [line for line in lines if line.startswith("│")]
    return [dict(zip(keys, (c.strip() for c in ln.split("│")[1:-1]), strict=True)) for ln in body]


def same(got: Sequence[Mapping[str, str]], expected: Sequence[Mapping[str, str]]) -> None:
    """*got* has *expected*'s records in order, with their values for the keys
    *expected* names."""
    assert len(got) == len(expected)
    picked = [{key: row.get(key) for key in want} for row, want in zip(got, expected, strict=True)]
    assert picked == list(expected)


def newest_first(records: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    # Sorted stably: records of the same second stay in list order.
    return sorted(records, key=lambda record: -int(record[key]))


def activity_row(record: Mapping[str, Any]) -> dict[str, str]:
    return {
        "id": str(int(record["id"])),
        "activity_id": str(record["activity_id"]),
        "name": text(record["name"]),
        "num_points": str(int(record["num_points"])),
    }


def redemption_row(record: Mapping[str, Any]) -> dict[str, str]:
    return {
        "id": str(int(record["id"])),
        "reward_id": str(int(record["reward_id"])),
        "reward_title": text(record["reward_title"]),
        "points": str(int(record["points"])),
        "status": text(record["status"]),
    }


# -- every command, every format, --sandbox --------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_points(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    alice = sandbox_alice()
    code, out, err = run(capsys, "points", *ALICE, "--sandbox", "--format", fmt)
    assert code == 0, err
    expected = {
        "id": str(alice.id),
        "redeemable_points": str(alice.points),
        "total_points": str(alice.total_points),
        "fan_level": text(alice.fan_level),
    }
    same(rows(fmt, out, POINTS_COLUMNS), [expected])
    if fmt == "table":
        assert err == "1 row\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_user(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    alice = sandbox_alice()
    code, out, err = run(capsys, "user", *ALICE, "--sandbox", "--format", fmt)
    assert code == 0, err
    expected = {
        "id": str(alice.id),
        "first_name": text(alice.profile.get("first_name")),
        "last_name": text(alice.profile.get("last_name")),
        "email_address": SANDBOX_EMAIL,
        "fan_level": text(alice.fan_level),
        "redeemable_points": str(alice.points),
    }
    assert expected["first_name"]  # a sample member has a name to show
    same(rows(fmt, out, USER_COLUMNS), [expected])


@pytest.mark.parametrize("fmt", FORMATS)
def test_activities(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    alice = sandbox_alice()
    expected = [activity_row(r) for r in newest_first(alice.activities, "date_created")]
    assert len(expected) > 10  # more than a page
    code, out, err = run(capsys, "activities", *ALICE, "--sandbox", "--format", fmt)
    assert code == 0, err
    same(rows(fmt, out, ACTIVITY_COLUMNS), expected)
    if fmt == "table":
        assert err == f"{len(expected)} rows\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_redemptions(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    alice = sandbox_alice()
    expected = [redemption_row(r) for r in newest_first(alice.redemptions, "date_redeemed")]
    assert len(expected) == 37
    code, out, err = run(capsys, "redemptions", *ALICE, "--sandbox", "--format", fmt)
    assert code == 0, err
    same(rows(fmt, out, REDEMPTION_COLUMNS), expected)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_the_data_formats_carry_every_field(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    # The table shows a few columns; the other formats every modelled field.
    fields = {
        "points": {"id", "total_points", "redeemable_points", "num_points_purchased", "fan_level"},
        "activities": {
            "id",
            "activity_id",
            "name",
            "num_points",
            "notes",
            "date_created",
            "date_awarded",
            "activity_date",
            "show_as_locked_by_tier",
            "min_tier_id",
            "extra_data",
        },
        "redemptions": {
            "id",
            "reward_id",
            "reward_title",
            "points",
            "quantity",
            "status",
            "date_redeemed",
        },
    }
    for command, keys in fields.items():
        code, out, err = run(capsys, command, *ALICE, "--sandbox", "--format", fmt)
        assert code == 0, err
        assert set(rows(fmt, out, ())[0]) == keys, command
    code, out, err = run(capsys, "user", *ALICE, "--sandbox", "--format", fmt)
    assert code == 0, err
    assert {"tier_info", "segments", "custom_data", "date_of_birth", "postal_code"} <= set(
        rows(fmt, out, ())[0]
    )


def test_the_listing_options(capsys: pytest.CaptureFixture[str]) -> None:
    alice = sandbox_alice()
    expected = [activity_row(r) for r in newest_first(alice.activities, "date_created")]
    args = ["--sandbox", "--format", "ndjson", "--page-size", "3", "--max-concurrency", "2"]
    code, out, err = run(capsys, "activities", *ALICE, *args, "--max-items", "7")
    assert code == 0, err
    same(rows("ndjson", out, ()), expected[:7])
    code, out, err = run(capsys, "redemptions", *ALICE, *args, "--max-items", "5")
    assert code == 0, err
    redeemed = newest_first(alice.redemptions, "date_redeemed")
    same(rows("ndjson", out, ()), [redemption_row(r) for r in redeemed[:5]])
    # rewards takes --max-items too.
    code, out, err = run(capsys, "rewards", *ALICE, *args, "--max-items", "6")
    assert code == 0, err
    in_stock = [r for r in alice.rewards if int(r["current_quantity"]) > 0]
    assert [row["id"] for row in rows("ndjson", out, ())] == [str(r["id"]) for r in in_stock[:6]]


@pytest.mark.parametrize("command", ["activities", "redemptions"])
def test_a_member_with_no_history_is_an_empty_listing(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    carol = FakeCrowdTwist(seed=0).users[2]
    assert (carol.activities, carol.redemptions) == ([], [])
    member = [str(carol.identifier("email")), "--id-type", "email", "--sandbox"]
    assert run(capsys, command, *member, "--format", "json") == (0, "[]\n", "")
    code, _, err = run(capsys, command, *member)
    assert (code, err) == (0, "0 rows\n")


@pytest.mark.parametrize("command", ["user", "points", "activities", "redemptions"])
def test_an_unknown_member_exits_4(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, err = run(capsys, command, "nobody@example.com", "--id-type", "email", "--sandbox")
    assert (code, out) == (4, "")
    assert err == "crowdtwist-async: error: page_not_found: User does not exist. (HTTP 400)\n"


# -- usage -------------------------------------------------------------------------


def test_help_lists_the_four_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^    (\w+)(?: |$)", out, re.MULTILINE)
    assert listed == ["rewards", "coupons", "user", "points", "activities", "redemptions"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["activities", "--page-size", "11"],
            "crowdtwist-async activities: error: argument --page-size: "
            "must be between 1 and 10, got 11",
            id="activities-page-size",
        ),
        pytest.param(
            ["redemptions", "--page-size", "0"],
            "crowdtwist-async redemptions: error: argument --page-size: "
            "must be between 1 and 10, got 0",
            id="redemptions-page-size",
        ),
        pytest.param(
            ["activities", "--max-items", "0"],
            "crowdtwist-async activities: error: argument --max-items: must be at least 1, got 0",
            id="max-items",
        ),
        pytest.param(
            ["points", "--page-size", "5"],
            "crowdtwist-async: error: unrecognized arguments: --page-size 5",
            id="points-is-not-a-listing",
        ),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert usage_error(capsys, *args[:1], *ALICE, "--sandbox", *args[1:]) == message


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        pytest.param("--date-start", "2025-13-01", id="no-such-month"),
        pytest.param("--date-end", "2025-02-29", id="no-such-day"),
        pytest.param("--date-start", "20250101", id="basic-iso-form"),
        pytest.param("--date-end", "2025-W05-5", id="week-date"),
        pytest.param("--date-end", "yesterday", id="words"),
        pytest.param("--date-start", "２０２５-01-01", id="non-ascii-digits"),
    ],
)
def test_a_bad_date_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert usage_error(capsys, "redemptions", *ALICE, "--sandbox", flag, value) == (
        f"crowdtwist-async redemptions: error: argument {flag}: not a date as YYYY-MM-DD: {value!r}"
    )


def test_a_range_ending_before_it_starts_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dates = ["--date-start", "2025-03-02", "--date-end", "2025-03-01"]
    code, out, err = run(capsys, "redemptions", *ALICE, "--sandbox", *dates)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "crowdtwist-async: error: --date-end (2025-03-01) is before --date-start (2025-03-02)"
    )


# -- against a served fake: what is sent, exact dates, no secrets -------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCrowdTwist]:
    """A fake at a fixed `now`, served on a port the command is pointed at."""
    fake = FakeCrowdTwist(seed=0, now=NOW, api_key=KEY)
    with fake.serve(port=0) as url:
        monkeypatch.setenv("CROWDTWIST_API_KEY", KEY)
        monkeypatch.setenv("CROWDTWIST_BASE_URL", url)
        yield fake


def redeemed_on(record: Mapping[str, Any]) -> date:
    return datetime.fromtimestamp(int(record["date_redeemed"]), timezone.utc).date()


def test_redemptions_sends_the_dates_and_lists_that_range(
    capsys: pytest.CaptureFixture[str], served: FakeCrowdTwist
) -> None:
    alice = next(user for user in served.users if user.email == SANDBOX_EMAIL)
    start, end = date(2024, 9, 1), date(2025, 2, 28)
    ranged = [r for r in alice.redemptions if start <= redeemed_on(r) <= end]
    assert 0 < len(ranged) < len(alice.redemptions)
    dates = ["--date-start", "2024-09-01", "--date-end", "2025-02-28"]
    code, out, err = run(capsys, "redemptions", *ALICE, *dates, "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert [r["id"] for r in got] == [
        str(int(r["id"])) for r in newest_first(ranged, "date_redeemed")
    ]
    assert [datetime.fromisoformat(r["date_redeemed"]) for r in got] == [
        datetime.fromtimestamp(int(r["date_redeemed"]), timezone.utc)
        for r in newest_first(ranged, "date_redeemed")
    ]
    assert {(r.params["date_start"], r.params["date_end"]) for r in served.requests} == {
        ("2024-09-01", "2025-02-28")
    }


def test_a_range_over_a_year_is_read_a_year_at_a_time(
    capsys: pytest.CaptureFixture[str], served: FakeCrowdTwist
) -> None:
    alice = next(user for user in served.users if user.email == SANDBOX_EMAIL)
    dates = ["--date-start", "2023-06-15", "--date-end", "2025-06-15"]
    code, out, err = run(capsys, "redemptions", *ALICE, *dates, "--format", "ndjson")
    assert code == 0, err
    expected = newest_first(alice.redemptions, "date_redeemed")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [
        str(int(r["id"])) for r in expected
    ]
    windows = {(r.params["date_start"], r.params["date_end"]) for r in served.requests}
    assert windows == {("2024-06-15", "2025-06-15"), ("2023-06-15", "2024-06-14")}


def test_no_pii_sends_pii_false(capsys: pytest.CaptureFixture[str], served: FakeCrowdTwist) -> None:
    code, out, err = run(capsys, "user", "1001", "--id-type", "id", "--no-pii", "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["id"] == 1001
    [request] = served.requests
    assert request.params == {"id_type": "id", "pii": "false"}
    code, _, err = run(capsys, "user", "1001", "--id-type", "id", "--format", "json")
    assert code == 0, err
    assert served.requests[1].params == {"id_type": "id"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_user_never_prints_the_credentials_a_profile_carries(
    capsys: pytest.CaptureFixture[str], served: FakeCrowdTwist, fmt: str
) -> None:
    profile = {"id": 1001, "first_name": "Alice", "fan_level": "Gold", **SECRETS}
    served.script(json=profile, path="/v2/users/*")
    code, out, err = run(capsys, "user", *ALICE, "--format", fmt)
    assert code == 0, err
    assert "Alice" in out
    for name, secret in SECRETS.items():
        assert secret not in out + err
        assert name not in out


# -- the progress bar ----------------------------------------------------------------


def test_a_listing_shows_progress_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    stdout, stderr = Stream(tty=False), Stream(tty=True)
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["redemptions", *ALICE, "--sandbox", "--format", "json"]) == 0
    # stdout is the data alone; the bar counts alice's 4 pages of 10 on stderr.
    assert len(json.loads(stdout.written())) == 37
    seen = stderr.written()
    assert b"pages" in seen
    assert b"4/4" in seen
