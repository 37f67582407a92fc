"""An OpenTelemetry SDK tracer provider for the tests that read spans.

OpenTelemetry lets a process set its global tracer provider once, so the
provider is installed once (`install`) and stays for the rest of the run. It
records nothing unless a test asks (`recording`): outside that, its sampler
drops every span, so the SDK makes only non-recording spans, which nothing
keeps, and its processor forwards no span to the exporter either, even one
started while recording and ended later (a listing dropped after its test).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

__all__ = ["EXPORTER", "PROVIDER", "install", "recording"]


class _Switch:
    """Whether a test is recording spans now."""

    on = False


_SWITCH: Final = _Switch()


class _SampleWhileRecording(Sampler):
    """Samples every span while a test records, none otherwise."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if not _SWITCH.on:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "SampleWhileRecording"


class _ForwardWhileRecording(SimpleSpanProcessor):
    """Exports a span as it ends, if a test is recording then."""

    def on_end(self, span: ReadableSpan) -> None:
        if _SWITCH.on:
            super().on_end(span)


EXPORTER: Final = InMemorySpanExporter()
PROVIDER: Final = TracerProvider(sampler=_SampleWhileRecording())
PROVIDER.add_span_processor(_ForwardWhileRecording(EXPORTER))


def install() -> TracerProvider:
    """Make `PROVIDER` the process's global tracer provider. Idempotent."""
    if trace.get_tracer_provider() is not PROVIDER:
        trace.set_tracer_provider(PROVIDER)
        # OpenTelemetry only logs a warning when a provider was set before.
        assert trace.get_tracer_provider() is PROVIDER, "another tracer provider is set"
    return PROVIDER


@contextmanager
def recording() -> Iterator[InMemorySpanExporter]:
    """Record the spans ended in the block, into an exporter emptied before and after."""
    install()
    EXPORTER.clear()
    _SWITCH.on = True
    try:
        yield EXPORTER
    finally:
        _SWITCH.on = False
        EXPORTER.clear()
