"""What `crowdtwist-async` writes when the server's text is hostile: in every format,
nothing the server sends can drive the terminal, and json, ndjson and piped csv lose
nothing."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import NamedTuple

import pytest

# Private on purpose: `main(argv)` is what the `crowdtwist-async` console
# script runs; called in process, every format is checked without a subprocess.
from crowdtwist_async._cli import main
from crowdtwist_async.testing import FakeCrowdTwist, FakeUser

from .test_cli import read_terminal

KEY = "cli-output-key-Vb72"
START = datetime(2025, 2, 26, tzinfo=timezone.utc)
END = datetime(2027, 1, 12, tzinfo=timezone.utc)
PRINTABLE_ASCII = frozenset(map(chr, range(0x20, 0x7F)))


class Case(NamedTuple):
    """Server text, and how each kind of output must write it."""

    id: str
    text: str
    #: Inside a JSON string (json, ndjson, and csv's JSON cells).
    json: str
    #: Where a person reads it: the table, error lines, csv on a terminal.
    shown: str

    @property
    def hostile(self) -> frozenset[str]:
        """The characters of `text` that must never be written raw: all but printable
        ASCII and newline, which the output has of its own (tests count the lines)."""
        return frozenset(self.text) - PRINTABLE_ASCII - {"\n"}


CASES = [
    Case("osc-title", "\x1b]0;pwned\x07", r"\u001b]0;pwned\u0007", r"\x1b]0;pwned\x07"),
    Case("csi", "\x1b[2J\x1b[31mred", r"\u001b[2J\u001b[31mred", r"\x1b[2J\x1b[31mred"),
    Case("c0-layout", "a\nb\tc\rd\x08", r"a\nb\tc\rd\b", r"a\nb\tc\rd\x08"),
    Case("nul-del", "a\x00b\x7f", r"a\u0000b\u007f", r"a\x00b\x7f"),
    Case(
        "c1", "\x9b31m\x85\x9d0;t\x9c", r"\u009b31m\u0085\u009d0;t\u009c", r"\x9b31m\x85\x9d0;t\x9c"
    ),
    Case(
        "bidi",
        "\u202eevil\u202c \u202a\u202b\u202d \u2066\u2067\u2068\u2069 \u200e\u200f\u061c",
        r"\u202eevil\u202c \u202a\u202b\u202d \u2066\u2067\u2068\u2069 \u200e\u200f\u061c",
        r"\u202eevil\u202c \u202a\u202b\u202d \u2066\u2067\u2068\u2069 \u200e\u200f\u061c",
    ),
    Case("line-separators", "a\u2028b\u2029c", r"a\u2028b\u2029c", r"a\u2028b\u2029c"),
    # Zero-width space, BOM, soft hyphen, and a tag character (hidden text).
    Case(
        "other-format",
        "x\u200by\ufeffz\xad\U000e0041",
        r"x\u200by\ufeffz\u00ad\udb40\udc41",
        r"x\u200by\ufeffz\xad\U000e0041",
    ),
]
IDS = [case.id for case in CASES]
#: Printable text the escaping must leave alone: accents, a dash, emoji joined by
#: ZWJ, a Persian word with ZWNJ, a no-break space, a backslash, rich markup.
KEPT = "Café – 10% off ☕ 👩\u200d💻 \u0646\u200c\u0645 \xa0C:\\tmp [b]x[/b]"
KEPT_JSON = "Café – 10% off ☕ 👩\u200d💻 \u0646\u200c\u0645 \xa0C:\\\\tmp [b]x[/b]"


def email(name: str) -> str:
    return f"{name}@example.com"


@pytest.fixture(scope="module")
def fake_url() -> Iterator[tuple[FakeCrowdTwist, str]]:
    """A served fake where member `<case>@example.com` has one reward, whose every
    free-text field is the case's text, and one coupon whose code and title are."""
    fake = FakeCrowdTwist(seed=0, api_key=KEY)
    for name, text in [*((case.id, case.text) for case in CASES), ("kept", KEPT)]:
        member = fake.add_user(email=email(name))
        fake.add_reward(
            member,
            id="R1",
            title=text,
            description=text,
            extra_data={text: text},
            num_points=5,
            current_quantity=1,
            date_start=START,
            date_end=END,
        )
        fake.add_coupon(member, code=text, reward_title=text)
    with fake.serve(port=0) as url:
        yield fake, url


class Stream(io.TextIOWrapper):
    """A UTF-8 text stream over bytes we can read back; a terminal if `tty`."""

    def __init__(self, *, tty: bool) -> None:
        self.raw_bytes = io.BytesIO()
        super().__init__(self.raw_bytes, encoding="utf-8", newline="\n")
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def written(self) -> bytes:
        self.flush()
        return self.raw_bytes.getvalue()


class Run(NamedTuple):
    code: int
    stdout: bytes
    stderr: bytes


@pytest.fixture
def run(fake_url: tuple[FakeCrowdTwist, str], monkeypatch: pytest.MonkeyPatch) -> RunCli:
    _, url = fake_url
    monkeypatch.setenv("CROWDTWIST_API_KEY", KEY)
    monkeypatch.setenv("CROWDTWIST_BASE_URL", url)
    monkeypatch.setenv("COLUMNS", "300")
    return RunCli()


class RunCli:
    """The command, in this process, against the served fake."""

    def __call__(self, *args: str, tty: bool, stderr_tty: bool = False) -> Run:
        stdout, stderr = Stream(tty=tty), Stream(tty=stderr_tty)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "stdout", stdout)
            patch.setattr(sys, "stderr", stderr)
            code = main(list(args))
        return Run(code, stdout.written(), stderr.written())

    def rewards(self, name: str, fmt: str, *, tty: bool) -> str:
        result = self("rewards", email(name), "--id-type", "email", "--format", fmt, tty=tty)
        assert result.code == 0, result.stderr
        return result.stdout.decode("utf-8")


TTY = pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipe"])
CASE = pytest.mark.parametrize("case", CASES, ids=IDS)


def json_fields(case: Case) -> list[str]:
    """The exact text of the reward's free-text fields in JSON."""
    return [
        f'"title": "{case.json}"',
        f'"description": "{case.json}"',
        f'"extra_data": {{"{case.json}": "{case.json}"}}',
    ]


@TTY
@CASE
def test_json_escapes_and_keeps_the_text(run: RunCli, case: Case, tty: bool) -> None:
    out = run.rewards(case.id, "json", tty=tty)
    assert out.startswith('[\n  {"id": "R1", ')
    assert out.endswith("}\n]\n")
    assert out.count("\n") == 3  # none of the server's newlines
    assert all(field in out for field in json_fields(case))
    assert not case.hostile & set(out)
    [reward] = json.loads(out)
    assert reward["title"] == reward["description"] == case.text
    assert reward["extra_data"] == {case.text: case.text}


@TTY
@CASE
def test_ndjson_escapes_and_keeps_the_text(run: RunCli, case: Case, tty: bool) -> None:
    out = run.rewards(case.id, "ndjson", tty=tty)
    assert out.startswith('{"id": "R1", ')
    assert out.endswith("}\n")
    assert out.count("\n") == 1
    assert all(field in out for field in json_fields(case))
    assert not case.hostile & set(out)
    reward = json.loads(out)
    assert reward["title"] == reward["description"] == case.text
    assert reward["extra_data"] == {case.text: case.text}


@CASE
def test_csv_on_a_terminal_shows_escapes(run: RunCli, case: Case) -> None:
    out = run.rewards(case.id, "csv", tty=True)
    _, line, end = out.split("\n")
    assert end == ""
    assert not case.hostile & set(out)
    # Escaped, the text needs no csv quoting: it is there byte for byte.
    assert f",{case.shown},{case.shown},1,5,2025-02-26T00:00:00+00:00," in line
    [row] = csv.DictReader(io.StringIO(out, newline=""))
    assert row["title"] == row["description"] == case.shown
    # A JSON cell stays JSON: escaped, and exact when decoded.
    assert row["extra_data"] == f'{{"{case.json}": "{case.json}"}}'
    assert json.loads(row["extra_data"]) == {case.text: case.text}


@CASE
def test_csv_into_a_pipe_is_exact(run: RunCli, case: Case) -> None:
    out = run.rewards(case.id, "csv", tty=False)
    [row] = csv.DictReader(io.StringIO(out, newline=""))
    # But for NUL, which Python 3.10's csv writer refuses: `\x00` on every Python.
    assert row["title"] == row["description"] == case.text.replace("\x00", "\\x00")
    assert row["extra_data"] == f'{{"{case.json}": "{case.json}"}}'
    assert json.loads(row["extra_data"]) == {case.text: case.text}


def table_row(shown: str) -> str:
    title = shown.ljust(len("Title"))
    return f"│ R1 │ {title} │ 5      │ 1    │ 2025-02-26 00:00 │ 2027-01-12 00:00 │"


#: rich's own styling of the header on a terminal: bold, then reset.
RICH_STYLES = ("\x1b[1m", "\x1b[0m")


def unstyled(out: str) -> str:
    """*out* without rich's header styling, so that any ESC left is the server's."""
    for style in RICH_STYLES:
        out = out.replace(style, "")
    return out


@TTY
@CASE
def test_the_table_is_one_line_per_reward_with_escapes(run: RunCli, case: Case, tty: bool) -> None:
    out = run.rewards(case.id, "table", tty=tty)
    lines = out.split("\n")
    # Top border, header, rule, the one row, bottom border: no line broken.
    assert len(lines) == 6
    assert lines[3] == table_row(case.shown)
    assert lines[5] == ""
    assert not case.hostile & set(unstyled(out))


@TTY
@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "table"])
def test_printable_text_is_written_as_it_is(run: RunCli, fmt: str, tty: bool) -> None:
    out = run.rewards("kept", fmt, tty=tty)
    if fmt in ("json", "ndjson"):
        assert f'"title": "{KEPT_JSON}"' in out
    else:
        assert KEPT in out
    assert "\\u" not in out
    assert "\\x" not in out


@CASE
@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "table"])
def test_coupons_on_a_terminal(run: RunCli, fmt: str, case: Case) -> None:
    # The coupon's code and its reward's title are the case's text.
    result = run("coupons", email(case.id), "--id-type", "email", "--format", fmt, tty=True)
    assert result.code == 0, result.stderr
    out = result.stdout.decode("utf-8")
    assert not case.hostile & set(unstyled(out))
    if fmt == "json" or fmt == "ndjson":
        [coupon] = json.loads(out) if fmt == "json" else [json.loads(out)]
        assert f'"code": "{case.json}"' in out
        assert f'"reward_title": "{case.json}"' in out
        assert coupon["code"] == coupon["reward_title"] == case.text
        assert out.count("\n") == (3 if fmt == "json" else 1)
    elif fmt == "csv":
        [row] = csv.DictReader(io.StringIO(out, newline=""))
        assert row["code"] == row["reward_title"] == case.shown
        assert out.count("\n") == 2
    else:
        lines = out.split("\n")
        assert len(lines) == 6
        assert lines[3].startswith(f"│ {case.shown} │ {case.shown} │ ")


@pytest.mark.parametrize("fmt", ["json", "ndjson", "table"])
def test_a_lone_surrogate_is_escaped_not_an_error(
    run: RunCli, fake_url: tuple[FakeCrowdTwist, str], fmt: str
) -> None:
    # JSON can carry half a surrogate pair ("\\ud800"), which UTF-8 cannot; the
    # fake's own answers are UTF-8, so the page is scripted as JSON's escapes.
    fake, _ = fake_url
    name = f"surrogate-{fmt}"
    member = fake.add_user(email=email(name))
    record = fake.add_reward(member, id="R1", date_start=START, date_end=END)
    paging = {"total": 1, "pages": 1, "next_page": None, "prev_page": None}
    page = {"paging": paging, "rewards": [{**record, "title": "a\ud800b"}]}
    fake.script(
        body=json.dumps(page),
        headers={"content-type": "application/json"},
        path=f"*{name}*",
    )
    out = run.rewards(name, fmt, tty=True)
    if fmt == "table":
        assert "│ a\\ud800b │" in out
    else:
        assert '"title": "a\\ud800b"' in out
        [reward] = json.loads(out) if fmt == "json" else [json.loads(out)]
        assert reward["title"] == "a\ud800b"


@CASE
def test_a_server_error_message_is_escaped_on_stderr(
    run: RunCli, fake_url: tuple[FakeCrowdTwist, str], case: Case
) -> None:
    fake, _ = fake_url
    member = next(u for u in fake.users if u.email == email(case.id))
    script_error(fake, member, case.text)
    result = run("coupons", str(member.id), "--max-retries", "0", tty=True, stderr_tty=True)
    assert result.code == 1
    assert result.stdout == b""
    assert result.stderr.decode("utf-8") == (
        f"crowdtwist-async: error: {case.shown}: {case.shown} (HTTP 400)\n"
    )


def script_error(fake: FakeCrowdTwist, member: FakeUser, text: str) -> None:
    fake.script(400, json={"error": text, "message": text}, path=f"*/users/{member.id}/*")


def test_the_help_states_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rewards", "--help"])
    assert exited.value.code == 0
    helped = " ".join(capsys.readouterr().out.split())
    assert (
        "Server text cannot drive the terminal: controls, bidi and other invisible format "
        "characters, U+2028 and U+2029 are written as \\uXXXX in json and ndjson (the same "
        "text once decoded), and shown as escapes such as \\x1b or \\u202e in the table, in "
        "error messages, and in csv on a terminal; csv to a file or a pipe is exact"
    ) in helped


CSV = ["--id-type", "email", "--format", "csv"]


@pytest.mark.slow
def test_csv_on_a_real_terminal(fake_url: tuple[FakeCrowdTwist, str]) -> None:
    """isatty() as the operating system answers it, through a pseudo-terminal."""
    _, url = fake_url
    case = CASES[0]
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "crowdtwist_async", "rewards", email(case.id), *CSV],
            stdout=terminal,
            stderr=subprocess.PIPE,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("CROWDTWIST_")},
                "CROWDTWIST_API_KEY": KEY,
                "CROWDTWIST_BASE_URL": url,
            },
        )
        os.close(terminal)
        seen = read_terminal(controller, process)
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(controller)
    assert process.returncode == 0, stderr
    assert b"\x1b" not in seen
    assert b"\x07" not in seen
    assert f",{case.shown},{case.shown},".encode() in seen
