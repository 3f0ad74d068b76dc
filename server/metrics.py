"""/metrics in Prometheus's text format: what the server did and what the views show.

Labels are bounded: command kinds and results are fixed sets, and runs are counted by state and
company count, never labelled by company or handle. A company's admin sees its own company's
figures only, as the API shows it only its own runs.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from jobledger.domain.errors import LedgerError

RESULTS = ("ok", "refused", "failed")  # refused: a broken rule or bad input; failed: the store


class Metrics:
    """The server's registry and its instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "jobledger_commands",
            "Commands taken, by kind and result.",
            ["kind", "result"],
            registry=self.registry,
        )
        self.group_size = Histogram(
            "jobledger_group_commands",
            "Commands per group commit.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "jobledger_group_commit_seconds",
            "Time to decide and commit one group.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.requests = Counter(
            "jobledger_http_requests", "HTTP requests, by status class.", ["status"], registry=self.registry
        )
        self.subscribers = Gauge("jobledger_sse_subscribers", "Open event streams.", registry=self.registry)
        # labels() looks its child up under a lock on every call; these sets are small and fixed.
        self._commands: dict[tuple[str, str], Counter] = {}
        self._requests: dict[int, Counter] = {}

    def observe_group(self, size: int, seconds: float) -> None:
        """A group the writer recorded: how many commands, and how long it took."""
        self.group_size.observe(size)
        self.commit_seconds.observe(seconds)

    def count_commands(self, commands: Sequence[object], results: Iterable[str]) -> None:
        """Commands taken, by kind, each with its result (RESULTS: ok, refused, failed)."""
        # (`results` may be endless: repeat("failed") for a whole group.)
        tally = collections.Counter(zip(map(_kind, commands), results, strict=False))
        for (kind, result), count in tally.items():
            child = self._commands.get((kind, result))
            if child is None:
                child = self._commands[kind, result] = self.commands.labels(kind, result)
            child.inc(count)

    def count_request(self, status: int) -> None:
        """One answered request, by its status class."""
        group = status // 100
        child = self._requests.get(group)
        if child is None:
            child = self._requests[group] = self.requests.labels(f"{group}xx")
        child.inc()

    def watch(self, name: str, text: str, read: Callable[[], float]) -> None:
        """A gauge read when scraped."""
        gauge = Gauge(name, text, registry=self.registry)
        gauge.set_function(read)

    def add_collector(self, collector: Collector) -> None:
        """A collector of gauges computed when scraped (from the views)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class RunsCollector(Collector):
    """Live runs by state, and how many companies have any, from the active_jobs view."""

    def __init__(self, counts: Callable[[], tuple[dict[str, int], int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_state, companies = self._counts()
        runs = GaugeMetricFamily("jobledger_active_runs", "Runs not yet Done, by state.", labels=["state"])
        for state, count in sorted(by_state.items()):
            runs.add_metric([state], count)
        yield runs
        yield GaugeMetricFamily("jobledger_active_companies", "Companies with a live run.", value=companies)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class EventsCollector(Collector):
    """Events the server appended, by kind (one label value per event class: a fixed set)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        events = CounterMetricFamily("jobledger_events", "Events appended, by kind.", labels=["kind"])
        for kind, count in sorted(self._counts().items()):
            events.add_metric([kind], count)
        yield events

    def describe(self) -> Iterator[CounterMetricFamily]:
        return iter(())


class CompanyCollector(Collector):
    """What /metrics shows a company's admin: its own live runs by state and its last hour of
    activity (nothing of the server's or of another company's)."""

    def __init__(self, company: str, by_state: dict[str, int], last_hour: dict[str, int]) -> None:
        self._company, self._by_state, self._last_hour = company, by_state, last_hour

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily(
            "jobledger_company_active_runs", "The company's runs not yet Done, by state.", labels=["state"]
        )
        for state, count in sorted(self._by_state.items()):
            runs.add_metric([state], count)
        yield runs
        hour = GaugeMetricFamily(
            "jobledger_company_last_hour",
            "The company's runs started and finished (by outcome) and run events in the last hour.",
            labels=["what"],
        )
        for what, count in self._last_hour.items():
            hour.add_metric([what], count)
        yield hour

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


def company_metrics(company: str, by_state: dict[str, int], last_hour: dict[str, int]) -> bytes:
    """/metrics in the text format for one company's admin."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CompanyCollector(company, by_state, last_hour))
    return generate_latest(registry)


def _kind(command: object) -> str:
    return type(command).__name__


def result_of(outcome: object) -> str:
    """A command's result for the metrics: refused (an error of the ledger's) or ok."""
    return "refused" if isinstance(outcome, LedgerError) else "ok"
