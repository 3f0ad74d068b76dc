"""msgspec MessagePack vs msgspec JSON for the ledger's stored events: speed and size.

Run by hand, for example:

    python bench/codec.py
    python bench/codec.py --jobs 4000 --repeats 7

The events are a realistic mix made by the ledger's own rules from bench/workload.py's command
stream (per job: Submitted, Started, 5 ProgressUpdated, 10 DetailLogged, Completed). Each codec
uses one typed Encoder and one typed Decoder per event class, built once, as the mapper does.

Measured per codec, each the median of --repeats passes over all events (min and max beside it;
the garbage collector is paused during a pass, so that a collection does not land in one codec's):
encode ops/s, decode ops/s, bytes per event, and the mapper round trip (event -> StoredEvent ->
event through the ledger's MsgspecMapper, with its encoder and decoders set to the codec's).
Every codec must give back events equal to the originals.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import msgspec
import workload

from jobledger.domain.events import DomainEvent
from jobledger.store.codec import MsgspecMapper

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]


class Codec:
    """One stored format: an encoder, and a typed decoder per event class built once on first use."""

    def __init__(self, name: str, encoder: Any, decoder: Callable[[type], Any]) -> None:
        self.name = name
        self.encode: Encode = encoder.encode
        self._decoder = decoder
        self._decoders: dict[type, Decode] = {}

    def decoder(self, cls: type) -> Decode:
        if cls not in self._decoders:
            self._decoders[cls] = self._decoder(cls).decode
        return self._decoders[cls]


def msgpack_codec() -> Codec:
    return Codec("msgspec msgpack", msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder)


def json_codec() -> Codec:
    return Codec("msgspec json", msgspec.json.Encoder(), msgspec.json.Decoder)


class CodecMapper(MsgspecMapper):
    """The ledger's mapper with its encoder and decoders set to a given codec's."""

    def __init__(self, codec: Codec) -> None:
        super().__init__()
        if not hasattr(self, "_encode") or not hasattr(self, "_decoders"):
            raise RuntimeError("MsgspecMapper no longer has _encode/_decoders; update bench/codec.py")
        self._encode = codec.encode
        self._decoders = {topic: codec.decoder(cls) for cls, topic in self._topics.items()}


def stock_format(codecs: Sequence[Codec], events: Sequence[DomainEvent]) -> str:
    """Which codec the ledger's own mapper stores with today."""
    mapper = MsgspecMapper()
    sample = events[:50]
    states = [mapper.to_stored_event(event).state for event in sample]
    for codec in codecs:
        if states == [codec.encode(event) for event in sample]:
            return codec.name
    return "neither (compressed, encrypted or another encoder)"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed(run: Callable[[], object], count: int, clock: Callable[[], float]) -> float:
    """Operations per second of one pass of `run`, which does `count` operations."""
    gc.collect()
    gc.disable()  # a collection landing in one codec's pass would decide the comparison
    try:
        started = clock()
        run()
        return count / (clock() - started)
    finally:
        gc.enable()


@dataclass
class Result:
    """The figures of one codec; the rate lists fill up one repeat at a time."""

    codec: Codec
    sizes: list[int]
    by_type: dict[str, list[int]]
    passes: dict[str, Callable[[], object]]
    encode: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    mapper: list[float] = field(default_factory=list)


def prepare(codec: Codec, events: Sequence[DomainEvent]) -> Result:
    """Check that the codec and its mapper give back every event; set up its timed passes."""
    mapper = CodecMapper(codec)
    encode = codec.encode
    encoded = [encode(event) for event in events]
    pairs = [(codec.decoder(type(event)), data) for event, data in zip(events, encoded, strict=True)]
    if [decode(data) for decode, data in pairs] != list(events):
        raise SystemExit(f"{codec.name}: decoded events differ from the originals")
    stored = [mapper.to_stored_event(event) for event in events]
    if [mapper.to_domain_event(s) for s in stored] != list(events):
        raise SystemExit(f"{codec.name}: the mapper round trip changed events")
    if [s.state for s in stored] != encoded:
        raise SystemExit(f"{codec.name}: the mapper stores other bytes than the codec under test")
    to_stored, to_domain = mapper.to_stored_event, mapper.to_domain_event
    by_type: dict[str, list[int]] = defaultdict(list)
    for event, data in zip(events, encoded, strict=True):
        by_type[type(event).__name__].append(len(data))
    return Result(
        codec=codec,
        sizes=[len(data) for data in encoded],
        by_type=by_type,
        passes={
            "encode": lambda: [encode(event) for event in events],
            "decode": lambda: [decode(data) for decode, data in pairs],
            "mapper": lambda: [to_domain(to_stored(event)) for event in events],
        },
    )


def measure(results: Sequence[Result], events: int, repeats: int, clock: Callable[[], float]) -> None:
    """Time every pass of every codec, interleaved and in alternating order, so that load from
    other processes on a shared machine falls on both codecs alike."""
    for repeat in range(repeats):
        order = results if repeat % 2 == 0 else list(reversed(results))
        for name in ("encode", "decode", "mapper"):
            for result in order:
                getattr(result, name).append(timed(result.passes[name], events, clock))


def report(results: Sequence[Result], events: int) -> None:
    """The codec table: medians, with min-max on the line below."""
    columns = ("encode ops/s", "decode ops/s", "mapper round trip/s")
    print(f"\n{'codec':<17}" + "".join(f"{c:>22}" for c in columns) + f"{'bytes/event':>13}{'MB in all':>11}")
    for r in results:
        rates = (r.encode, r.decode, r.mapper)
        medians = "".join(f"{statistics.median(x):>22,.0f}" for x in rates)
        size = f"{statistics.mean(r.sizes):>13.1f}{sum(r.sizes) / 1e6:>11.2f}"
        print(f"{r.codec.name:<17}{medians}{size}")
        print(f"{'  min-max':<17}" + "".join(f"{f'{min(x):,.0f}-{max(x):,.0f}':>22}" for x in rates))
    base, other = results[0], results[1]
    ratio = lambda a, b: statistics.median(a) / statistics.median(b)  # noqa: E731
    print(
        f"\n{other.codec.name} / {base.codec.name}: encode {ratio(other.encode, base.encode):.2f}x,"
        f" decode {ratio(other.decode, base.decode):.2f}x,"
        f" mapper round trip {ratio(other.mapper, base.mapper):.2f}x,"
        f" size {statistics.mean(other.sizes) / statistics.mean(base.sizes):.2f}x"
    )
    print(f"\nbytes per event by type ({events:,} events)")
    header = "".join(f"{r.codec.name:>18}" for r in results)
    print(f"{'event':<18}{'count':>7}{header}")
    for name in sorted(base.by_type, key=lambda name: -len(base.by_type[name])):
        cells = "".join(f"{statistics.mean(r.by_type[name]):>18.1f}" for r in results)
        print(f"{name:<18}{len(base.by_type[name]):>7}{cells}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in the mix (18 events each)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall: time.perf_counter; cpu: time.process_time, steadier when other processes load the CPUs",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.repeats < 1:
        parser.error("--jobs and --repeats must be positive")

    events = list(workload.events(workload.commands(args.jobs, seed=args.seed)))
    print(
        f"python {platform.python_version()}, msgspec {version('msgspec')};"
        f" {len(events):,} events of {args.jobs:,} jobs; medians of {args.repeats} passes;"
        f" {args.clock} clock; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    codecs = [msgpack_codec(), json_codec()]
    print(f"the ledger's MsgspecMapper stores: {stock_format(codecs, events)}")
    results = [prepare(codec, events) for codec in codecs]
    measure(results, len(events), args.repeats, CLOCKS[args.clock])
    report(results, len(events))
    return 0


if __name__ == "__main__":
    sys.exit(main())
