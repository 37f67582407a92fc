"""The SDK's process-wide state, in one object: what it looks up or sets up
once for every Session of the process.

Each field belongs to one module, which alone reads and writes it: the test
switch to `_retry`, the decoder choice to `_protocol`, the OpenTelemetry
look-up and the `CROWDTWIST_LOG` handler to `_telemetry`, the timestamp cache
to `_converter`. Only `reset_process_state` (public in
`crowdtwist_async.testing`) touches them all. The log filter of `_redact` is
not here: it holds nothing, so there is nothing to forget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["STATE", "ProcessState", "reset_process_state"]


class ProcessState:
    """Every field as a fresh import leaves it, until first use fills it in."""

    __slots__ = (
        "loads",
        "log_handler",
        "log_levels",
        "log_read",
        "moments",
        "otel_api",
        "otel_named",
        "otel_provider",
        "skip_waits",
        "tracer",
    )

    skip_waits: bool
    loads: Callable[[bytes | str], object] | None
    otel_api: Any
    otel_named: bool
    otel_provider: object
    tracer: Tracer | None
    log_read: bool
    log_handler: logging.Handler | None
    log_levels: dict[str, int]

    def __init__(self) -> None:
        # The datetimes of the unix timestamps seen last (`_converter`). The
        # generated record hooks hold this very dict: it is cleared, never
        # replaced.
        self.moments: Final[dict[int, datetime]] = {}
        self._fresh()

    def _fresh(self) -> None:
        # `set_testing`: whether the waits between retries are skipped.
        self.skip_waits = False
        # The decoder `loads_strict` tries first (orjson's `loads`, or json's
        # own when orjson is not installed); None: not chosen yet.
        self.loads = None
        # opentelemetry's trace API (None: not looked up; False: not
        # installed), whether the environment names a tracer provider (read
        # with the API), the tracer provider last seen and its tracer.
        self.otel_api = None
        self.otel_named = False
        self.otel_provider = None
        self.tracer = None
        # Whether `CROWDTWIST_LOG` was read (at the first Session); the
        # handler it attached, and the levels it replaced, by logger name.
        self.log_read = False
        self.log_handler = None
        self.log_levels = {}

    def reset(self) -> None:
        """Put every field back as a fresh import leaves it (see `reset_process_state`)."""
        handler = self.log_handler
        if handler is not None:
            for name, level in self.log_levels.items():
                logger = logging.getLogger(name)
                logger.removeHandler(handler)
                logger.setLevel(level)
            handler.close()
        self.moments.clear()
        self._fresh()


#: The one instance: a process has one set of modules, and one state.
STATE: Final = ProcessState()


def reset_process_state() -> None:
    """Forget what the SDK looked up or set up once for the whole process.

    The SDK looks some things up on first use and keeps them: whether orjson
    is installed (to decode JSON), whether OpenTelemetry is (and its tracer
    provider), `CROWDTWIST_LOG` (read at the first Session, which attaches
    its handler), and the datetimes of the timestamps it has seen. After a
    reset, the next Session or request looks again, as in a fresh process:
    the handler `CROWDTWIST_LOG` attached is taken off again and the levels
    it set put back, and the test switch is off again (`set_testing(False)`).

    For tests that change what the SDK found: hide orjson, set
    `CROWDTWIST_LOG`, install a tracer provider. Call it before and after
    such a test, not while a request runs.

    ```python
    import sys

    import pytest

    from crowdtwist_async.testing import reset_process_state


    @pytest.fixture
    def without_orjson(monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setitem(sys.modules, "orjson", None)
        reset_process_state()  # JSON is decoded by json alone from here on
        yield
        reset_process_state()  # orjson is looked up again once it is back
    ```
    """
    STATE.reset()
