"""The stateful twin step: one ``StatefulLogic`` per profile key, around the pure pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from bytewax.operators import StatefulBatchLogic
from prometheus_client import Counter

from flows.metrics import RECEIPTS, twin_built, twin_retained
from flows.postgres import no_history
from operators.decode import DecodeLimits
from operators.pipeline import CommandRecord, Output, TwinItem, process, projection
from operators.registry import AcceptedPlatformData
from operators.twin import ProfileState, replay
from schemas.events import Event
from schemas.records import DeadLetter, RawRecord

T = TypeVar("T")

INPUTS = Counter(
    "fintra_inputs_total",
    "Inputs read, by topic and outcome (accepted or dead_lettered)",
    ["topic", "outcome"],
)
DEAD_LETTERS = Counter("fintra_dead_letters_total", "Inputs dead-lettered, by reason", ["reason"])
EVENTS = Counter("fintra_events_total", "Events emitted, by type", ["type"])
DEDUPE_NOOPS = Counter("fintra_dedupe_noops_total", "Inputs that repeated what the twin had")


TwinInput = TwinItem


class TwinLogic(StatefulBatchLogic[TwinInput, Output, ProfileState]):
    """Holds one profile's twin; the state is frozen, so a snapshot needs no copy.

    Items arrive in batches per profile: each is applied in order, and the projection is
    built once at the end of the batch, since the sink keeps only the newest per profile.
    """

    def __init__(
        self,
        state: ProfileState | None,
        limits: DecodeLimits,
        history: Callable[[str], list[Event]] = no_history,
    ) -> None:
        self._state = state
        self._limits = limits
        self._history = history
        self._retained = twin_built(state)

    def on_batch(self, values: list[TwinInput]) -> tuple[Iterable[Output], bool]:
        """Apply a profile's items in order, then project once."""
        received = time.monotonic()  # out of band: for the latency metric only
        if self._state is None and values:
            self._state = self._resume_from_log(values[0])
        outputs: list[Output] = []
        version = self._state.version if self._state is not None else 0
        for value in values:
            outputs += self._apply(value)
        if self._state is not None and self._state.version != version:
            events = [output for output in outputs if isinstance(output, Event)]
            document = projection(self._state, events)
            outputs.append(document)
            RECEIPTS.note(document, received, len(events))
        self._retained = twin_retained(self._state, self._retained)
        return outputs, StatefulBatchLogic.RETAIN

    def _resume_from_log(self, value: TwinInput) -> ProfileState | None:
        """The twin as its events in the log leave it; ``None`` for a profile with none."""
        key = _stream_key(value)
        events = self._history(key)
        return replay(key, events) if events else None

    def _apply(self, value: TwinInput) -> list[Output]:
        """Apply one item and count what happened."""
        record = value if isinstance(value, RawRecord) else value.record
        stream_key = _stream_key(value)
        before = self._state.noops if self._state is not None else 0
        self._state, outputs = process(self._state, stream_key, value, self._limits, project=False)
        DEDUPE_NOOPS.inc(self._state.noops - before)
        rejected = False
        for output in outputs:
            if isinstance(output, Event):
                EVENTS.labels(output.type).inc()
            elif isinstance(output, DeadLetter):
                count_dead_letter(output)
                rejected = True
        # Defaults and ticks fan out to many profiles; their inputs were counted upstream.
        if not rejected and isinstance(value, RawRecord | AcceptedPlatformData | CommandRecord):
            INPUTS.labels(record.topic, "accepted").inc()
        return outputs

    def snapshot(self) -> ProfileState:
        """Return the state as is: it is never mutated after a step."""
        assert self._state is not None  # noqa: S101 - on_item always runs before a snapshot
        return self._state


def count_dead_letter(letter: DeadLetter) -> DeadLetter:
    """Count a dead-lettered input, by its topic and by its reason."""
    INPUTS.labels(letter.record.topic, "dead_lettered").inc()
    DEAD_LETTERS.labels(letter.reason.value).inc()
    return letter


def count_market(record: RawRecord, item: T) -> T:
    """Count a market input as accepted or dead-lettered."""
    if isinstance(item, DeadLetter):
        count_dead_letter(item)
    else:
        INPUTS.labels(record.topic, "accepted").inc()
    return item


def _stream_key(value: TwinInput) -> str:
    record = value if isinstance(value, RawRecord) else value.record
    return getattr(value, "stream_key", None) or (record.key or b"").decode()


def twin_builder(
    limits: DecodeLimits, history: Callable[[str], list[Event]] = no_history
) -> Callable[[ProfileState | None], TwinLogic]:
    """Return the builder Bytewax calls for each new or resumed profile key.

    A key with no recovery state starts from ``history``, its events in the log.
    """

    def build(resume_state: ProfileState | None) -> TwinLogic:
        return TwinLogic(resume_state, limits, history)

    return build
