"""The `crowdtwist-async` command, run through its real entry point in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import crowdtwist_async as ct

# Private on purpose: `main(argv)` is what the console script runs, here in
# process; `_visible` is the one escaping the table, csv and error lines all
# use, checked on every BMP character.
from crowdtwist_async._cli import _visible, main
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

from .aiohttp_support import record_client_sessions

SECRET = "cli-secret-Hq47Zx"
ALICE = ["rewards", SANDBOX_EMAIL, "--id-type", "email"]


def cli(
    *args: str, env: dict[str, str] | None = None, stderr: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crowdtwist_async", *args],
        capture_output=stderr is subprocess.PIPE,
        stdout=None if stderr is subprocess.PIPE else subprocess.PIPE,
        stderr=None if stderr is subprocess.PIPE else stderr,
        text=True,
        env=environment(env),
        timeout=60,
        check=False,
    )


def read_terminal(controller: int, process: subprocess.Popen[bytes]) -> bytes:
    """What *process* wrote to the pseudo-terminal whose controller end is
    *controller*, until it closed its end or exited (60 s at most)."""
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.1)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    return seen


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the CROWDTWIST_ settings, plus *env*."""
    result = {k: v for k, v in os.environ.items() if not k.startswith("CROWDTWIST_")}
    result.update(env or {})
    return result


@pytest.fixture(scope="module")
def sandbox_ids() -> list[str]:
    """Alice's reward ids in the order the sandbox lists them."""
    result = cli(*ALICE, "--sandbox", "--format", "ndjson")
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


@pytest.mark.slow
def test_ndjson_is_one_reward_per_line(sandbox_ids: list[str]) -> None:
    # The sandbox user has about 200 rewards over about 20 pages, each once.
    assert len(sandbox_ids) == 203
    assert len(set(sandbox_ids)) == 203


@pytest.mark.slow
def test_json_is_an_array_of_every_field(sandbox_ids: list[str]) -> None:
    result = cli(*ALICE, "--sandbox", "--format", "json")
    assert result.returncode == 0, result.stderr
    rewards = json.loads(result.stdout)
    assert [r["id"] for r in rewards] == sandbox_ids
    first = rewards[0]
    # The API's own key names, ISO dates, enums as their values.
    assert {"freq_period_id", "sweepstakes_winners", "is_min_age_required"} <= set(first)
    assert isinstance(first["is_min_age_required"], bool)
    datetime.fromisoformat(first["date_start"])


@pytest.mark.slow
def test_csv_has_a_header_and_a_row_per_reward(sandbox_ids: list[str]) -> None:
    result = cli(*ALICE, "--sandbox", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["id"] for row in rows] == sandbox_ids
    assert rows[0]["title"]
    segments = [row["segment"] for row in rows if row["segment"]]
    assert segments
    assert {"name", "subscription_id", "eligibility_type"} <= set(json.loads(segments[0]))


@pytest.mark.slow
def test_table_lists_every_reward(sandbox_ids: list[str]) -> None:
    result = cli(*ALICE, "--sandbox")
    assert result.returncode == 0, result.stderr
    assert "Title" in result.stdout
    assert all(reward_id in result.stdout for reward_id in sandbox_ids)
    assert result.stderr.strip() == "203 rows"


@pytest.mark.slow
def test_include_soldout_and_page_size(sandbox_ids: list[str]) -> None:
    result = cli(*ALICE, "--sandbox", "--format", "ndjson", "--include-soldout", "--page-size", "7")
    assert result.returncode == 0, result.stderr
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert len(ids) == 207
    assert set(sandbox_ids) < set(ids)


@pytest.mark.slow
def test_coupons() -> None:
    fake = FakeCrowdTwist(seed=0)
    alice = next(user for user in fake.users if user.email == SANDBOX_EMAIL)
    now = int(datetime.now(timezone.utc).timestamp())
    usable = {c.record["code"] for c in alice.coupons if not c.used and not c.is_expired(now)}
    result = cli("coupons", SANDBOX_EMAIL, "--id-type", "email", "--sandbox", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert {c["code"] for c in json.loads(result.stdout)} == usable
    with_expired = cli(
        "coupons",
        SANDBOX_EMAIL,
        "--id-type",
        "email",
        "--sandbox",
        "--format",
        "json",
        "--expired",
        "true",
    )
    assert len(json.loads(with_expired.stdout)) == len(usable) + 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(
            ["rewards", "nobody@example.com", "--id-type", "email", "--sandbox"],
            4,
            "crowdtwist-async: error: page_not_found: User does not exist. (HTTP 400)",
            id="not-found",
        ),
        pytest.param(
            [*ALICE, "--sandbox", "--api-key", SECRET],
            3,
            "crowdtwist-async: error: invalid_auth: Invalid access credentials. (HTTP 403)",
            id="authentication",
        ),
        pytest.param(
            [*ALICE, "--sandbox", "--page-size", "11"],
            2,
            "crowdtwist-async rewards: error: argument --page-size: must be between 1 and 10, got 11",
            id="usage-page-size",
        ),
        pytest.param(
            ["coupons", "+15550100", "--id-type", "mobile_phone_number", "--sandbox"],
            2,
            "crowdtwist-async: error: id_type must be one of email, facebook_user_id, id, "
            "third_party_id, twitter_user_id, username; got 'mobile_phone_number'",
            id="usage-id-type-for-coupons",
        ),
        pytest.param(
            ["rewards", "alice"],
            2,
            "crowdtwist-async: error: no API key: pass --api-key, set CROWDTWIST_API_KEY, or try --sandbox",
            id="usage-no-key",
        ),
    ],
)
def test_errors_are_one_line_and_an_exit_code(args: list[str], code: int, message: str) -> None:
    result = cli(*args)
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == message
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_a_connection_failure_exits_1_without_the_key() -> None:
    result = cli(
        *ALICE,
        "--base-url",
        f"http://127.0.0.1:{free_port()}",
        "--max-retries",
        "0",
        env={"CROWDTWIST_API_KEY": SECRET},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("crowdtwist-async: error: APIConnectionError: GET /v2.1/users/")
    assert len(result.stderr.splitlines()) == 1
    assert SECRET not in result.stderr


@pytest.fixture
def served() -> Iterator[tuple[FakeCrowdTwist, str]]:
    fake = FakeCrowdTwist(seed=0, api_key=SECRET)
    with fake.serve(port=0) as url:
        yield fake, url


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["auto", "httpx", "aiohttp"])
def test_against_the_fake_on_a_real_port(
    served: tuple[FakeCrowdTwist, str], sandbox_ids: list[str], backend: str
) -> None:
    fake, url = served
    result = cli(
        *ALICE,
        "--format",
        "ndjson",
        "--max-concurrency",
        "3",
        "--http-backend",
        backend,
        env={"CROWDTWIST_API_KEY": SECRET, "CROWDTWIST_BASE_URL": url},
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == sandbox_ids
    assert sorted(r.page or 0 for r in fake.requests) == list(range(1, 22))
    assert fake.max_in_flight <= 3
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.slow
def test_progress_goes_to_a_terminal_on_stderr_only(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    output = tmp_path / "stdout.json"
    try:
        with output.open("w") as stdout:
            process = subprocess.Popen(
                [sys.executable, "-m", "crowdtwist_async", *ALICE, "--sandbox", "--format", "json"],
                stdout=stdout,
                stderr=terminal,
                env={**os.environ, "COLUMNS": "100"},
            )
        os.close(terminal)
        seen = read_terminal(controller, process)
        process.wait(timeout=60)
    finally:
        os.close(controller)
    assert process.returncode == 0
    # stdout stays pure data; the bar, drawn on the terminal, counts pages.
    assert len(json.loads(output.read_text())) == 203
    assert b"pages" in seen
    assert b"21/21" in seen


MANY = "many@example.com"


@pytest.fixture(scope="module")
def many_rewards() -> Iterator[dict[str, str]]:
    """The environment for a member whose listing, in any format, is far more
    than a pipe holds (64 KiB on Linux), so a writer must outlive its reader."""
    fake = FakeCrowdTwist(seed=0, api_key=SECRET)
    member = fake.add_user(email=MANY)
    for number in range(400):
        fake.add_reward(member, title=f"Reward {number}: " + "a long title, " * 8)
    with fake.serve(port=0) as url:
        yield {"CROWDTWIST_API_KEY": SECRET, "CROWDTWIST_BASE_URL": url}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["ndjson", "csv", "json", "table"])
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_a_reader_that_leaves_early_is_not_an_error(
    many_rewards: dict[str, str], fmt: str, buffered: bool
) -> None:
    # `crowdtwist-async ... | head -1`, with stdout buffered or (as with
    # PYTHONUNBUFFERED) not: a cut-short write is then a short count, not an error.
    env = environment({**many_rewards, "PYTHONUNBUFFERED": "" if buffered else "1"})
    args = ["rewards", MANY, "--id-type", "email", "--format", fmt]
    process = subprocess.Popen(
        [sys.executable, "-m", "crowdtwist_async", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)
    assert first
    assert stderr == b""
    assert process.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["ndjson", "table"])
def test_an_unencodable_stdout_is_one_error_line(fmt: str) -> None:
    # The sandbox's titles have non-ASCII characters, e.g. "–".
    result = cli(*ALICE, "--sandbox", "--format", fmt, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("crowdtwist-async: error: stdout's encoding (ascii) cannot encode")
    assert "PYTHONIOENCODING=utf-8" in line


HOSTILE_TITLE = "\x1b]0;pwned\x07 \x1b[31mred\nnext \u202eevil"


@pytest.mark.slow
def test_the_table_shows_server_text_literally(served: tuple[FakeCrowdTwist, str]) -> None:
    fake, url = served
    member = fake.add_user(email="mallory@example.com")
    literal = ["Buy 1 [get 1 free]", "Gift card [/]", "[red]alert[/red]", "[bold]x", ":smile:"]
    for title in [*literal, HOSTILE_TITLE]:
        fake.add_reward(member, title=title)
    result = cli(
        "rewards",
        "mallory@example.com",
        "--id-type",
        "email",
        env={"CROWDTWIST_API_KEY": SECRET, "CROWDTWIST_BASE_URL": url, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert all(title in result.stdout for title in literal)
    # Escaped, the controls are shown rather than obeyed by the terminal.
    assert r"\x1b]0;pwned\x07 \x1b[31mred\nnext \u202eevil" in result.stdout
    for control in ["\x1b", "\x07", "\u202e"]:
        assert control not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("Free Coffee", "Free Coffee", id="plain"),
        pytest.param("Café – 10% off ☕", "Café – 10% off ☕", id="printable-unicode"),
        pytest.param("[red]x[/red] :smile:", "[red]x[/red] :smile:", id="markup-is-not-its-job"),
        pytest.param("C:\\tmp", "C:\\tmp", id="backslash"),
        pytest.param("\x1b]0;pwned\x07", r"\x1b]0;pwned\x07", id="osc-title"),
        pytest.param("\x1b[31mred", r"\x1b[31mred", id="csi-colour"),
        pytest.param("a\nb\tc\rd", r"a\nb\tc\rd", id="newline-tab-return"),
        pytest.param("\x00\x7f", r"\x00\x7f", id="nul-and-del"),
        pytest.param("\x9b31m\x85", r"\x9b31m\x85", id="c1"),
        pytest.param("\xa0", "\xa0", id="nbsp-after-c1"),
        pytest.param(
            "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
            r"\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
            id="bidi",
        ),
        pytest.param("a\u2028b\u2029c", r"a\u2028b\u2029c", id="line-and-paragraph-separators"),
        pytest.param(
            "\u200b\ufeff\xad\u2060\U000e0041",
            r"\u200b\ufeff\xad\u2060\U000e0041",
            id="other-format-characters",
        ),
        pytest.param("\ud800", r"\ud800", id="lone-surrogate"),
        pytest.param(
            "👩\u200d💻 \u0646\u200c\u0645", "👩\u200d💻 \u0646\u200c\u0645", id="joiners-are-kept"
        ),
    ],
)
def test_visible_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert _visible(text) == shown


def test_visible_escapes_exactly_the_control_format_and_separator_characters() -> None:
    # Every BMP character (where the fast path's ranges are), by its Unicode
    # category as this Python knows it: escaped iff Cc, Cf, Cs, Zl or Zp, but
    # for the joiners ZWNJ and ZWJ.
    categories = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    wrong = [
        f"U+{code:04X}"
        for code in range(0x10000)
        if (_visible(chr(code)) != chr(code))
        != (unicodedata.category(chr(code)) in categories and code not in (0x200C, 0x200D))
    ]
    assert wrong == []


@pytest.mark.slow
def test_a_server_message_is_escaped_on_stderr(served: tuple[FakeCrowdTwist, str]) -> None:
    fake, url = served
    fake.script(400, json={"error": "bad_request", "message": HOSTILE_TITLE})
    result = cli(
        *ALICE,
        "--max-retries",
        "0",
        env={"CROWDTWIST_API_KEY": SECRET, "CROWDTWIST_BASE_URL": url},
    )
    assert result.returncode == 1
    assert result.stderr == (
        r"crowdtwist-async: error: bad_request: \x1b]0;pwned\x07 \x1b[31mred\nnext \u202eevil"
        " (HTTP 400)\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("http://evil.com/?api_key=URLSECRET", id="query"),
        pytest.param("http://user:URLSECRET@evil.com", id="userinfo"),
    ],
)
def test_a_refused_base_url_is_not_echoed(base_url: str) -> None:
    result = cli(*ALICE, "--api-key", SECRET, "--base-url", base_url)
    assert result.returncode == 2
    assert "must use https" in result.stderr
    assert "URLSECRET" not in result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.slow
def test_ctrl_c_exits_130(served: tuple[FakeCrowdTwist, str]) -> None:
    fake, url = served
    fake.latency = 30.0  # every page hangs, as on a stalled network
    process = subprocess.Popen(
        [sys.executable, "-m", "crowdtwist_async", *ALICE, "--format", "ndjson"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment({"CROWDTWIST_API_KEY": SECRET, "CROWDTWIST_BASE_URL": url}),
    )
    deadline = time.monotonic() + 30
    while fake.in_flight == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    assert fake.in_flight == 1
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stdout == b""
    assert b"Traceback" not in stderr


@pytest.mark.slow
def test_version_and_help() -> None:
    from crowdtwist_async import __version__

    assert cli("--version").stdout.strip() == f"crowdtwist-async {__version__}"
    helped = cli("rewards", "--help", env={"COLUMNS": "200"})
    assert helped.returncode == 0
    assert "--include-soldout" in helped.stdout


@pytest.mark.slow
def test_the_help_reads_its_defaults_from_the_sdk() -> None:
    assert ct.Limits().max_concurrency == 4
    assert ct.Retries().max_retries == 2
    helped = cli("rewards", "--help", env={"COLUMNS": "200"}).stdout
    # Each option's default, as argparse shows the one it parses to.
    assert re.search(
        r"--max-concurrency MAX_CONCURRENCY\s+pages fetched at once \(default: 4\)", helped
    )
    assert re.search(r"--max-retries MAX_RETRIES\s+\(default: 2\)", helped)
    assert f"seconds per attempt (default: {ct.DEFAULT_TIMEOUT.total:g})" in helped


@pytest.mark.parametrize(
    ("options", "installed", "expected"),
    [
        pytest.param([], True, "aiohttp", id="auto-installed"),
        pytest.param([], False, "httpx", id="auto-not-installed"),
        pytest.param(["--http-backend", "auto"], True, "aiohttp", id="auto-named"),
        pytest.param(["--http-backend", "httpx"], True, "httpx", id="httpx"),
        pytest.param(["--http-backend", "aiohttp"], True, "aiohttp", id="aiohttp"),
    ],
)
def test_the_http_backend_is_aiohttp_where_it_is_installed(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    served: tuple[FakeCrowdTwist, str],
    options: list[str],
    installed: bool,
    expected: str,
) -> None:
    fake, url = served
    if not installed:
        # As if aiohttp were not installed: importing it fails.
        monkeypatch.setitem(sys.modules, "aiohttp", None)
    # The aiohttp stack sends through an aiohttp ClientSession; httpx makes none.
    made = record_client_sessions(monkeypatch)
    alice = ["coupons", SANDBOX_EMAIL, "--id-type", "email", "--format", "ndjson"]
    status = main([*alice, "--api-key", SECRET, "--base-url", url, *options])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert len(out.splitlines()) == 3  # alice's usable coupons
    assert len(fake.requests) == 1
    assert len(made) == (1 if expected == "aiohttp" else 0)


@pytest.mark.slow
def test_the_sandbox_answers_through_httpx(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox_ids: list[str]
) -> None:
    # With aiohttp installed, auto would pick it for a real server; the
    # sandbox answers in memory through httpx, and no aiohttp ClientSession is made.
    made = record_client_sessions(monkeypatch)
    assert main([*ALICE, "--sandbox", "--format", "ndjson"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == sandbox_ids
    assert made == []
    result = cli(*ALICE, "--sandbox", "--http-backend", "aiohttp")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "crowdtwist-async: error: --sandbox answers in memory through httpx; "
        "it cannot use --http-backend aiohttp"
    )
