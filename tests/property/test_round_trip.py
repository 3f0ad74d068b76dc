"""Every event type survives the msgspec mapper exactly: encode, store, decode, and encode again."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import strategies
from eventsourcing.compressor import ZlibCompressor
from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.domain.events import EVENT_TYPES, DomainEvent
from jobledger.store.codec import MsgspecMapper, event_topic

MAPPERS = {"plain": lambda: MsgspecMapper(), "zlib": lambda: MsgspecMapper(compressor=ZlibCompressor())}


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=[cls.__name__ for cls in EVENT_TYPES])
def test_the_strategies_draw_every_field_of_every_event_type(cls: type[DomainEvent]) -> None:
    drawn = set(strategies.FIELDS[cls]) | {"originator_id", "originator_version", "timestamp"}

    assert drawn == set(cls.__struct_fields__)


@pytest.mark.parametrize("mapper_name", list(MAPPERS))
@pytest.mark.parametrize("cls", EVENT_TYPES, ids=[cls.__name__ for cls in EVENT_TYPES])
@settings(max_examples=40)
@given(data=st.data())
def test_every_event_type_survives_the_msgspec_mapper_round_trip_exactly(
    cls: type[DomainEvent], mapper_name: str, data: st.DataObject
) -> None:
    mapper = MAPPERS[mapper_name]()
    event: Any = data.draw(strategies.events_of(cls))

    stored = mapper.to_stored_event(event)
    back = mapper.to_domain_event(stored)

    assert type(back) is cls
    assert back == event
    # Equal and also the same bytes again: nothing was lost or reshaped on the way.
    assert msgspec.msgpack.encode(back) == msgspec.msgpack.encode(event)
    assert (stored.originator_id, stored.originator_version) == (
        event.originator_id,
        event.originator_version,
    )
    assert stored.topic == event_topic(cls)


@settings(max_examples=50)
@given(event=strategies.events)
def test_a_stored_event_decodes_to_an_equal_event_through_a_second_mapper(event: Any) -> None:
    stored = MsgspecMapper().to_stored_event(event)

    assert MsgspecMapper().to_domain_event(stored) == event
