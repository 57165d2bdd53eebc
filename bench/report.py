"""The report: figures and their targets in one table, with notes under it.

The figures come from load.py (throughput, the login flood) and micro.py (in-process
timings); this module decides what is shown, how, and which targets are met.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from load import FLOOD_CONNECTIONS, PROBE_RATE, FloodResult, Throughput

# Targets from the issue that asked for the benchmark.
RATIO_TARGET = 0.5
FLOOD_P99_TARGET_MS = 50.0
PEAK_RSS_TARGET_MB = 300.0


@dataclass
class Row:
    figure: str
    value: str
    target: str = "-"
    result: str = "info"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: str, value: float | None, unit_format: str = "{:.0f}") -> None:
        self.rows.append(Row(figure, "n/a" if value is None else unit_format.format(value)))

    def check(
        self, figure: str, value: float | None, target: str, passed: Callable[[float], bool]
    ) -> None:
        if value is None:
            self.rows.append(Row(figure, "n/a", target, "n/a"))
            return
        shown = f"{value:.2f}" if value < 10 else f"{value:.0f}"
        self.rows.append(Row(figure, shown, target, "PASS" if passed(value) else "MISS"))

    def print(self) -> None:
        table = [("figure", "value", "target", "result")]
        table += [(row.figure, row.value, row.target, row.result) for row in self.rows]
        widths = [max(len(cells[column]) for cells in table) for column in range(4)]
        for cells in table:
            line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            print(line.rstrip())
        for note in self.notes:
            print(f"- {note}")


def percentile(samples: list[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def add_throughput(report: Report, throughput: Throughput) -> None:
    """Rows for the targets bench/run.py alternates: the bare app's and the app's
    /users/me, the app's and the stripped app's /health."""
    report.notes += throughput.errors
    bare, app = throughput.median("bare /users/me"), throughput.median("app /users/me")
    full, stripped = throughput.median("app /health"), throughput.median("stripped /health")
    report.add("users/me req/s, bare FastAPI (median)", bare)
    report.add("users/me req/s, rendered app (median)", app)
    report.check(
        "users/me throughput, app / bare",
        app / bare,
        f">= {RATIO_TARGET}",
        lambda ratio: ratio >= RATIO_TARGET,
    )
    report.add("health req/s, full middleware stack", full)
    report.add("health req/s, middleware removed", stripped)
    report.add("middleware stack, cost per request (us)", 1e6 / full - 1e6 / stripped, "{:.1f}")
    spread = ", ".join(
        f"{name} {min(values):.0f}-{max(values):.0f}" for name, values in throughput.rps.items()
    )
    report.notes.append(f"req/s range over the rounds: {spread}")


def add_micro(report: Report, micro: dict[str, float]) -> None:
    """Rows for micro.py's timings, in microseconds per call."""
    us = "{:.1f}"
    report.add("token verification, first use (us)", micro.get("decode_unseen"), us)
    report.add("token verification, repeat use (us)", micro.get("decode_repeat"), us)
    report.add("principal cache hit, PrincipalCache.get (us)", micro.get("cache_get"), us)
    report.add("authorize, cached bearer token (us)", micro.get("auth_hit"), us)
    report.add("authorize, after a change: DB lookup (us)", micro.get("auth_miss"), us)
    if "auth_miss" in micro:
        lookup = micro["auth_miss"] - micro["auth_hit"]
        report.add("user lookup in the DB, miss - hit (us)", lookup, us)


def add_flood(
    report: Report, flood: FloodResult, rss_before_mb: float | None, peak_rss_mb: float | None
) -> None:
    """Rows for the login flood: /health latency idle and under it, the server's memory."""
    ms = "{:.1f}"
    report.add("health p50 idle (ms)", percentile(flood.idle_ms, 0.50), ms)
    report.add("health p99 idle (ms)", percentile(flood.idle_ms, 0.99), ms)
    report.add("health p50 under login flood (ms)", percentile(flood.flood_ms, 0.50), ms)
    report.check(
        "health p99 under login flood (ms)",
        percentile(flood.flood_ms, 0.99),
        f"<= {FLOOD_P99_TARGET_MS:g}",
        lambda p99: p99 <= FLOOD_P99_TARGET_MS,
    )
    report.add("logins/s during the flood", flood.logins_ok / flood.flood_seconds, "{:.1f}")
    report.add("server RSS before the flood (MB)", rss_before_mb)
    report.check(
        "server peak RSS, VmHWM (MB)",
        peak_rss_mb,
        f"<= {PEAK_RSS_TARGET_MB:g}",
        lambda mb: mb <= PEAK_RSS_TARGET_MB,
    )
    if flood.logins_failed or flood.probe_failures:
        report.notes.append(
            f"login flood: {flood.logins_failed} logins without 200, "
            f"{flood.probe_failures} failed health probes"
        )
    report.notes.append(
        f"{len(flood.idle_ms)} idle and {len(flood.flood_ms)} flood probes at {PROBE_RATE:g}/s; "
        f"{FLOOD_CONNECTIONS} connections logged in {flood.logins_ok} times "
        f"in {flood.flood_seconds:.0f} s"
    )
