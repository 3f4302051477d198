"""A RECORD message into its sink with the SDK's per-record steps that do something for it, and no others.

For every record the SDK's `Target._process_record_message` checks the message's keys, copies the record
(a stream map may change it), runs it through the stream's maps, looks up the sink, reads the
`add_record_metadata` setting, calls the sink's hooks in order and logs the batch context at debug level
(formatting every pending row of the batch whenever debug logging is on). For the usual load - no stream
maps, no flattening, no record metadata - the copy, the map and the lookups change nothing: the record
goes to the one sink of its stream as it came. `plain_sink` says when that is so, and `load_record` is
then the SDK's sequence of sink calls (metadata removed, validated, pre-processed, key properties
checked, counted, processed, counted again) without the rest. Anything else takes the SDK's own path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from singer_sdk.mapper import SameRecordTransform, StreamMap
from singer_sdk.sinks import Sink

from target_clickhouse_agile.sinks import ClickHouseSink


def plain_sink(
    stream_maps: Mapping[str, Sequence[StreamMap]], sinks: Mapping[str, Sink], stream: str
) -> ClickHouseSink | None:
    """The sink of `stream` when its records are loaded as they come (else None: the SDK's path)."""
    maps, sink = stream_maps.get(stream), sinks.get(stream)
    if maps is None or len(maps) != 1:
        return None
    if not isinstance(sink, ClickHouseSink) or sink.include_sdc_metadata_properties:
        return None
    only = maps[0]
    if type(only) is not SameRecordTransform or only.flattening_enabled or only.stream_alias != stream:
        return None
    return sink


def load_record(sink: ClickHouseSink, record: dict[str, Any]) -> None:
    """The SDK's per-record calls on `sink` (its own hooks, private ones too), in its order (see the
    module docstring)."""
    context = sink._get_context(record)
    sink._remove_sdc_metadata_from_record(record)
    sink._validate_and_parse(record)
    record = sink.preprocess_record(record, context)
    sink._singer_validate_message(record)
    sink.tally_record_read()
    sink.process_record(record, context)
    sink.record_counter_metric.increment()
