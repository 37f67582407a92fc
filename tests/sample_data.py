"""The saved samples in tests/samples/, a reward in the docs' wire format, and the
models' shared empty `unknown_fields`."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

import crowdtwist_async as ct

SAMPLES = Path(__file__).parent / "samples"

#: The key the tests' sessions send and their fakes take (`conftest.API_KEY`).
API_KEY = "sk-test-Zq8vN3pL0xW2"


def load(name: str) -> Any:
    """A saved sample from tests/samples/, decoded."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


#: The vendor's own sample reward (fields at the top level beside `paging`).
DOCS_REWARDS_SAMPLE: dict[str, Any] = json.loads((SAMPLES / "rewards_sample.json").read_text())


def make_reward(reward_id: int) -> dict[str, Any]:
    """A reward dict in the wire format, with the docs' quirks, numbered *reward_id*."""
    reward = {k: v for k, v in DOCS_REWARDS_SAMPLE.items() if k != "paging"}
    reward = copy.deepcopy(reward)
    reward["id"] = str(reward_id)
    reward["title"] = f"Reward #{reward_id}"
    return reward


def _no_fields() -> Mapping[str, Any]:
    default = attrs.fields(ct.Reward).unknown_fields.default
    assert isinstance(default, Mapping)
    return default


#: The one empty mapping a model holds as `unknown_fields` when its record
#: had no unknown keys: the field's default, shared by every model.
NO_FIELDS = _no_fields()
