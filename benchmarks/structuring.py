"""4. Structuring speed: JSON pages to models, from decoded dicts and from bytes.

The same pages (real FakeCrowdTwist output, with the API's quirks: booleans
as "0"/"1" and 0/1, numbers as strings, both spellings of drifted keys,
nulls, number ids) go through the SDK's converter, through a pydantic v2
model written to accept the same input (twice: with pydantic's own lax
coercions, in Rust, and with the coercions as Python validators, as the SDK's
hooks are), and through msgspec as the upper bound (lax conversion, no alias
for the drifted keys).

The pages are the same every round, so any table the SDK keeps of values
seen before (it shares the datetimes of repeated timestamps) hits on every
timestamp after the first round, as it would for many members whose rewards
carry the same dates. The SDK and pydantic are also run on the same pages
with every timestamp new (shifted by the round's number of seconds), as one
long listing of distinct rewards would be.

A second table starts where a user's code starts, from the page's bytes as
they come off the wire: the SDK's own path (`decode_response`, its strict
JSON decode, orjson when installed, then the converter, as the engine turns
a response into a `RewardsPage`), pydantic's `model_validate_json` on the
same bytes (the fast route users take), pydantic after `json.loads`, and
msgspec decoding straight into its structs (lax).
"""

from __future__ import annotations

import enum
import gc
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, Protocol, TypeVar

import httpx
import msgspec
import pydantic

from crowdtwist_async._payload import structure_rewards_page
from crowdtwist_async._protocol import decode_response
from crowdtwist_async._state import STATE
from crowdtwist_async.testing import FakeCrowdTwist

from ._common import Section, Target, median_ratio, table


async def sample_bodies(count: int) -> list[bytes]:
    """*count* pages of 10 rewards, the bytes of each as the API (the fake) sends them."""
    fake = FakeCrowdTwist(seed=3)
    user = fake.add_user(email="bench@example.com")
    for _ in range(count * 10):
        fake.add_reward(user, current_quantity=100)
    url = f"{fake.base_url}/v2.1/users/bench@example.com/rewards"
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        bodies = []
        for page in range(1, count + 1):
            params = {"id_type": "email", "page": str(page), "api_key": fake.api_key}
            bodies.append((await client.get(url, params=params)).content)
    return bodies


# --- pydantic: the same model, the same coercions ------------------------------


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class Period(enum.IntEnum):
    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4
    P5 = 5
    P6 = 6
    P7 = 7
    P8 = 8
    P9 = 9
    P10 = 10
    P11 = 11


Opt = pydantic.BeforeValidator(_blank_to_none)
OptInt = Annotated[int | None, Opt]
OptStr = Annotated[str | None, Opt]
OptDate = Annotated[datetime | None, Opt]


class PSegment(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, coerce_numbers_to_str=True)
    name: str
    subscription_id: int
    eligibility_type: str


class PPartner(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, coerce_numbers_to_str=True)
    id: int
    name: str


class PReward(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, coerce_numbers_to_str=True)
    id: str
    group_id: int
    title: str
    description: str
    current_quantity: int
    num_points: int
    date_start: datetime
    date_end: OptDate = None
    date_end_redeemable: OptDate = None
    is_enabled: bool
    category_id: int
    no_end_date: bool
    total_quantity: int
    max_select_quantity: OptInt = None
    max_per_user: int
    is_shipping_required: bool
    is_phone_number_required: bool
    is_min_age_required: bool
    min_age: OptInt = None
    is_digital_download: bool
    sweepstakes_winners: OptInt = pydantic.Field(
        default=None,
        validation_alias=pydantic.AliasChoices("sweepstakes_winners", "sweepstake_winners"),
    )
    extra_data: Annotated[dict[str, Any] | None, Opt] = None
    reference_id: OptStr = None
    total_coupons: int
    remaining_coupons: int
    freq_cap: OptInt = None
    freq_period: Annotated[Period | None, Opt] = pydantic.Field(
        default=None, validation_alias="freq_period_id"
    )
    freq_period_name: OptStr = None
    image: str
    reward_terms: OptStr = None
    min_tier_id: OptInt = None
    segment: PSegment | None = None
    partner_info: PPartner | None = None


class PPaging(pydantic.BaseModel):
    total: int | None = None
    pages: int | None = None
    next_page: str | None = None
    prev_page: str | None = None


class PPage(pydantic.BaseModel):
    paging: PPaging
    rewards: tuple[PReward, ...]


# --- pydantic again, with the coercions as Python validators --------------------
# The way the SDK's hooks do them (and the way the prototype measured
# pydantic): every bool, int and timestamp goes through a Python function,
# then pydantic checks the type strictly.


def _py_bool(value: object) -> object:
    if value is True or value is False:
        return value
    if isinstance(value, int | str):
        return {"1": True, "0": False, "true": True, "false": False}.get(
            str(value).strip().lower(), value
        )
    return value


def _py_int(value: object) -> object:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return value


def _py_datetime(value: object) -> object:
    if type(value) is int or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    return value


def _py_optional(inner: Callable[[object], object]) -> Callable[[object], object]:
    def optional(value: object) -> object:
        return None if value is None or value == "" else inner(value)

    return optional


def _with_python_validators(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation: Any = field.annotation
        for plain, coerce in ((bool, _py_bool), (int, _py_int), (datetime, _py_datetime)):
            if annotation is plain:
                annotation = Annotated[plain, pydantic.BeforeValidator(coerce), pydantic.Strict()]
            elif annotation == plain | None:
                annotation = Annotated[
                    Annotated[plain, pydantic.Strict()] | None,
                    pydantic.BeforeValidator(_py_optional(coerce)),
                ]
        fields[name] = (annotation, field)
    derived: type[pydantic.BaseModel] = pydantic.create_model(
        f"{model.__name__}Py", __config__=model.model_config, **fields
    )
    return derived


PRewardPy = _with_python_validators(PReward)


class PPagePy(pydantic.BaseModel):
    paging: PPaging
    rewards: tuple[PRewardPy, ...]  # type: ignore[valid-type]


# --- msgspec: the upper bound --------------------------------------------------


class MSegment(msgspec.Struct, frozen=True):
    name: str
    subscription_id: int
    eligibility_type: str


class MPartner(msgspec.Struct, frozen=True):
    id: int
    name: str


class MReward(msgspec.Struct, frozen=True):
    id: str | int
    group_id: int
    title: str
    description: str
    current_quantity: int
    num_points: int
    date_start: datetime
    is_enabled: bool
    category_id: int
    no_end_date: bool
    total_quantity: int
    max_per_user: int
    is_shipping_required: bool
    is_phone_number_required: bool
    is_min_age_required: bool
    is_digital_download: bool
    total_coupons: int
    remaining_coupons: int
    image: str
    date_end: datetime | None = None
    date_end_redeemable: datetime | None = None
    max_select_quantity: int | None = None
    min_age: int | None = None
    sweepstakes_winners: int | None = None
    extra_data: dict[str, Any] | None = None
    reference_id: str | None = None
    freq_cap: int | str | None = None
    freq_period_id: int | str | None = None
    freq_period_name: str | None = None
    reward_terms: str | None = None
    min_tier_id: int | None = None
    segment: MSegment | None = None
    partner_info: MPartner | None = None


class MPaging(msgspec.Struct):
    total: int | None = None
    pages: int | None = None
    next_page: str | None = None
    prev_page: str | None = None


class MPage(msgspec.Struct):
    paging: MPaging
    rewards: tuple[MReward, ...]


class Structured(Protocol):
    """A structured page, whichever library made it."""

    @property
    def rewards(self) -> Sequence[Any]: ...


#: What a contender starts from: a decoded page (a dict) or the page's bytes.
In = TypeVar("In")
Structure = Callable[[Mapping[str, Any], int], Structured]
#: A page's bytes, as they come off the wire, to a structured page.
Decode = Callable[[bytes, int], Structured]
SDK = "crowdtwist_async (attrs + cattrs)"
PYDANTIC = "pydantic v2, same coercions"
SDK_FRESH = f"{SDK}, every timestamp new"
PYDANTIC_FRESH = f"{PYDANTIC}, every timestamp new"
#: How much faster than pydantic (with its coercions in Rust) the SDK should
#: structure (issue 11).
TARGET = 1.2

#: The from-bytes contenders (the SDK's label names its decoder once known).
PYDANTIC_JSON = "pydantic v2 `model_validate_json`, same coercions"
PYDANTIC_LOADS = "pydantic v2, `json.loads` + `model_validate`"
MSGSPEC_JSON = "msgspec `msgspec.json.decode(body, type=...)`, lax (upper bound)"
PYDANTIC_JSON_FRESH = f"{PYDANTIC_JSON}, every timestamp new"
#: The headers of the fake's rewards pages (`decode_response` reads them
#: only for an error).
_HEADERS = {"content-type": "application/json"}


def sdk_from_bytes(body: bytes, number: int) -> Structured:
    """What the SDK's engine does with a rewards page's 200 response: its
    strict JSON decode and error-envelope check, then the converter."""
    return structure_rewards_page(decode_response(200, _HEADERS, body), number)


def sdk_decoder() -> str:
    """Which JSON decoder the SDK's strict decode used (call after a decode)."""
    loads = STATE.loads
    return "orjson" if getattr(loads, "__module__", None) == "orjson" else "json"


#: The keys whose unix timestamps become datetimes.
TIMESTAMPS = ("date_start", "date_end", "date_end_redeemable")


def shifted(pages: list[dict[str, Any]], seconds: int) -> list[dict[str, Any]]:
    """*pages* with every integer timestamp *seconds* later (the rest shared)."""

    def reward(record: dict[str, Any]) -> dict[str, Any]:
        record = dict(record)
        for key in TIMESTAMPS:
            if type(record.get(key)) is int:
                record[key] += seconds
        return record

    return [{**page, "rewards": [reward(r) for r in page["rewards"]]} for page in pages]


def encode(page: Mapping[str, Any]) -> bytes:
    """*page* as the fake puts it on the wire."""
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()


def rate(
    structure: Callable[[In, int], Structured],
    rounds: Sequence[Sequence[In]],
    expected: int,
) -> float:
    """Rewards per second through *structure*, one round per list of pages
    (decoded, or bytes); checks that the *expected* rewards per round came out."""
    # The garbage of the contender before is not this one's to collect.
    gc.collect()
    made = 0
    started = time.perf_counter()
    for pages in rounds:
        for number, page in enumerate(pages, 1):
            made += len(structure(page, number).rewards)
    elapsed = time.perf_counter() - started
    if made != expected * len(rounds):
        raise AssertionError(f"structured {made} rewards, expected {expected * len(rounds)}")
    return made / elapsed


def check_alike(
    contenders: Mapping[str, Callable[[In, int], Structured]],
    pages: Sequence[In],
    counts: Sequence[int],
) -> None:
    """Each contender must read the quirky input as the SDK does, or the
    comparison means nothing: the same ids, numbers, flags and dates.
    *counts* is the number of rewards on each page."""

    def digest(page: Structured) -> list[tuple[str, int, bool, bool, datetime]]:
        return [
            (str(r.id), r.num_points, r.is_enabled, r.no_end_date, r.date_start)
            for r in page.rewards
        ]

    for number, (page, count) in enumerate(zip(pages, counts, strict=True), 1):
        digests = {name: digest(structure(page, number)) for name, structure in contenders.items()}
        reference = next(iter(digests.values()))
        if len(reference) != count:
            raise AssertionError(f"page {number}: {len(reference)} rewards structured")
        for name, got in digests.items():
            if got != reference:
                raise AssertionError(f"{name} reads page {number} differently from the SDK")


def interleaved(
    runs: Mapping[str, tuple[Callable[[In, int], Structured], Sequence[Sequence[In]]]],
    repeats: int,
    expected: int,
) -> dict[str, list[float]]:
    """*repeats* runs of every contender, taking turns; rewards/s of each run."""
    results: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (structure, batches) in runs.items():
            results[name].append(rate(structure, batches, expected))
    return results


async def run(quick: bool) -> Section:
    bodies = await sample_bodies(10)
    pages = [json.loads(body) for body in bodies]
    counts = [len(page["rewards"]) for page in pages]
    expected = sum(counts)
    rounds = 50 if quick else 200
    repeats = 5 if quick else 7
    contenders: dict[str, Structure] = {
        SDK: structure_rewards_page,
        PYDANTIC: lambda page, _: PPage.model_validate(page),
        "pydantic v2, coercions as Python validators": lambda page, _: PPagePy.model_validate(page),
        "msgspec, lax (upper bound)": lambda page, _: msgspec.convert(page, MPage, strict=False),
    }
    check_alike(contenders, pages, counts)
    same = [pages] * rounds
    # Each round its own timestamps, shifted past every earlier round's.
    fresh = [shifted(pages, 1 + n) for n in range(rounds)]
    runs: dict[str, tuple[Structure, Sequence[list[dict[str, Any]]]]] = {
        name: (structure, same) for name, structure in contenders.items()
    }
    runs[SDK_FRESH] = (structure_rewards_page, fresh)
    runs[PYDANTIC_FRESH] = (contenders[PYDANTIC], fresh)
    section = Section(
        title="4. Structuring speed",
        setup=(
            f"{len(pages)} decoded pages of 10 rewards from the FakeCrowdTwist (with its wire "
            f"quirks), structured {rounds} times per run; median of {repeats} runs, the "
            "contenders interleaved, ratios the median of run-by-run ratios. Rewards per "
            "second, higher is better. The last two rows: the same pages with every "
            "timestamp new in every round (no value repeats), against pydantic on those. "
            "Every contender is first checked to read the same ids, numbers, flags and "
            "dates from the quirky pages as the SDK, and every run to have structured "
            "every reward."
        ),
        header=("structuring", "rewards/s", "relative to pydantic"),
    )
    results = interleaved(runs, repeats, expected)
    for name, values in results.items():
        against = PYDANTIC_FRESH if name in (SDK_FRESH, PYDANTIC_FRESH) else PYDANTIC
        relative = median_ratio(values, results[against])
        section.rows.append((name, statistics.median(values), relative))
        if name == SDK:
            section.targets.append(
                Target(f"{name}, rewards/s / {PYDANTIC}", relative, TARGET, unit=" x")
            )
    section.verdict = from_bytes(bodies, pages, counts, rounds, repeats)
    return section


def from_bytes(
    bodies: list[bytes],
    pages: list[dict[str, Any]],
    counts: list[int],
    rounds: int,
    repeats: int,
) -> str:
    """The second table: every contender starting from the page's bytes."""
    if [encode(page) for page in pages] != bodies:
        raise AssertionError("the fake's pages are not encoded as `encode` encodes them")
    contenders: dict[str, Decode] = {
        "SDK": sdk_from_bytes,
        PYDANTIC_JSON: lambda body, _: PPage.model_validate_json(body),
        PYDANTIC_LOADS: lambda body, _: PPage.model_validate(json.loads(body)),
        MSGSPEC_JSON: lambda body, _: msgspec.json.decode(body, type=MPage, strict=False),
    }
    check_alike(contenders, bodies, counts)
    sdk = f"crowdtwist_async: `decode_response` ({sdk_decoder()}, strict) + converter"
    contenders = {(sdk if name == "SDK" else name): decode for name, decode in contenders.items()}
    # The same pages, encoded again with every timestamp shifted, round by round.
    fresh = [[encode(page) for page in shifted(pages, 1 + n)] for n in range(rounds)]
    runs: dict[str, tuple[Decode, Sequence[list[bytes]]]] = {
        name: (decode, [bodies] * rounds) for name, decode in contenders.items()
    }
    sdk_fresh = f"{sdk}, every timestamp new"
    runs[sdk_fresh] = (sdk_from_bytes, fresh)
    runs[PYDANTIC_JSON_FRESH] = (contenders[PYDANTIC_JSON], fresh)
    results = interleaved(runs, repeats, sum(counts))
    rows = []
    for name, values in results.items():
        against = PYDANTIC_JSON_FRESH if name in (sdk_fresh, PYDANTIC_JSON_FRESH) else PYDANTIC_JSON
        rows.append((name, statistics.median(values), median_ratio(values, results[against])))
    lines = [
        f"**From bytes.** The same {len(bodies)} pages as the fake sent them "
        f"({sum(map(len, bodies)) // len(bodies):,} bytes a page on average), each "
        "contender starting from the bytes, as a user's code does: the SDK's own path "
        "(`decode_response`, the strict JSON decode and error-envelope check the engine "
        "runs on every response, then `structure_rewards_page`, as the engine turns a "
        "response into a `RewardsPage`); pydantic's `model_validate_json` on the bytes, "
        "the same model as above; pydantic after the standard library's `json.loads`; "
        "msgspec decoding into its structs (lax). Decoded and structured "
        f"{rounds} times per run, median of {repeats} runs, the contenders interleaved, "
        "ratios the median of run-by-run ratios to `model_validate_json`. The last two "
        "rows: the pages re-encoded with every timestamp new in every round, against "
        "`model_validate_json` on those. Every contender is first checked to read the "
        "same ids, numbers, flags and dates from the bytes as the SDK, and every run to "
        "have structured every reward. No target: the figure is for comparison.",
        "",
        *table(
            ("structuring from bytes", "rewards/s", "relative to pydantic model_validate_json"),
            rows,
        ),
    ]
    return "\n".join(lines)
