"""The report: figures and their targets in one table, with notes under it.

The figures come from load.py (throughput, the login flood) and micro.py (in-process
timings); this module decides what is shown, how, and which targets are met.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from configurations import (
    CONFIGURATIONS,
    ONE_WORKER,
    SCALING_TARGET,
    TENANCY_PAIRS,
    TENANCY_TARGET,
    TWO_WORKERS,
    WORKER_COUNTS,
    app_target,
    bare_target,
)
from load import FLOOD_CONNECTIONS, PROBE_RATE, FloodResult, Throughput

# Targets from the issues that asked for the benchmark.
FLOOD_P99_TARGET_MS = 50.0
PEAK_RSS_TARGET_MB = 300.0
ACCESS_LINE_TARGET_US = 10.0
NOW, BEFORE = "now", "before"


@dataclass
class Row:
    figure: str
    value: str
    target: str = "-"
    result: str = "info"
    # The same figure of the template given as --before, measured in the same run.
    before: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        figure: str,
        value: float | None,
        unit_format: str = "{:.0f}",
        before: float | None = None,
    ) -> None:
        shown_before = "" if before is None else unit_format.format(before)
        shown = "n/a" if value is None else unit_format.format(value)
        self.rows.append(Row(figure, shown, before=shown_before))

    def check(
        self,
        figure: str,
        value: float | None,
        target: str,
        passed: Callable[[float], bool],
        before: float | None = None,
    ) -> None:
        shown_before = "" if before is None else _shown(before)
        if value is None:
            self.rows.append(Row(figure, "n/a", target, "n/a", shown_before))
            return
        result = "PASS" if passed(value) else "MISS"
        self.rows.append(Row(figure, _shown(value), target, result, shown_before))

    def print(self) -> None:
        with_before = any(row.before for row in self.rows)
        table = [("figure", "value", *(["before"] if with_before else []), "target", "result")]
        for row in self.rows:
            before = [row.before] if with_before else []
            table.append((row.figure, row.value, *before, row.target, row.result))
        widths = [max(len(cells[column]) for cells in table) for column in range(len(table[0]))]
        for cells in table:
            line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            print(line.rstrip())
        for note in self.notes:
            print(f"- {note}")


def _shown(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def percentile(samples: list[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def add_configurations(report: Report, throughput: Throughput) -> None:
    """Rows for every configuration's /users/me against the bare app with as many workers,
    then what tenancy costs, then how two workers scale against one, the render's and the
    bare app's. A figure of a configuration not served (a version not given, a render
    the --before template cannot make) is n/a or left blank."""
    report.notes += throughput.errors

    def median(target: str) -> float | None:
        return throughput.median(target) if target in throughput.rps else None

    def ratio(configuration_target: str, workers: int) -> float | None:
        app, bare = median(configuration_target), median(bare_target(workers))
        return None if app is None or bare is None else app / bare

    for configuration in CONFIGURATIONS:
        now, before = (
            ratio(app_target(version, configuration), configuration.workers)
            for version in (NOW, BEFORE)
        )
        figure = f"/users/me, app / bare: {configuration.label}"
        if configuration.target is None:
            report.add(figure, now, "{:.2f}", before)
        else:
            target = configuration.target
            passed = partial(operator.le, target)
            report.check(figure, now, f">= {target:g}", passed, before)
    for workers in WORKER_COUNTS:
        bare = median(bare_target(workers))
        report.add(f"/users/me req/s, bare FastAPI, {workers} worker(s)", bare)
    for configuration in CONFIGURATIONS:
        now, before = (median(app_target(v, configuration)) for v in (NOW, BEFORE))
        report.add(f"/users/me req/s: {configuration.label}", now, before=before)
    for database, tenancy_on, tenancy_off in TENANCY_PAIRS:
        on, off = (median(app_target(NOW, c)) for c in (tenancy_on, tenancy_off))
        report.check(
            f"/users/me, tenancy on / off: {database}",
            None if on is None or off is None else on / off,
            f">= {TENANCY_TARGET:g}",
            lambda value: value >= TENANCY_TARGET,
        )

    def scaling(one: str, two: str) -> float | None:
        single, double = median(one), median(two)
        return None if single is None or double is None else double / single

    bare = scaling(bare_target(ONE_WORKER.workers), bare_target(TWO_WORKERS.workers))
    app_now, app_before = (
        scaling(app_target(v, ONE_WORKER), app_target(v, TWO_WORKERS)) for v in (NOW, BEFORE)
    )
    two_over_one = f"{TWO_WORKERS.workers} workers / {ONE_WORKER.workers}"
    report.add(f"{two_over_one}, bare FastAPI", bare, "{:.2f}")
    report.add(f"{two_over_one}, production render", app_now, "{:.2f}", app_before)
    report.check(
        f"{two_over_one}: the render's scaling / the bare app's",
        None if app_now is None or bare is None else app_now / bare,
        f">= {SCALING_TARGET:g}",
        lambda value: value >= SCALING_TARGET,
        None if app_before is None or bare is None else app_before / bare,
    )
    spread = ", ".join(
        f"{name} {min(values):.0f}-{max(values):.0f}" for name, values in throughput.rps.items()
    )
    report.notes.append(f"req/s range over the rounds: {spread}")


def add_middleware_cost(report: Report, throughput: Throughput) -> None:
    """Rows for /health with and without the middleware stack (default render, log off)."""
    full, stripped = throughput.median("app /health"), throughput.median("stripped /health")
    report.add("health req/s, full middleware stack", full)
    report.add("health req/s, middleware removed", stripped)
    report.add("middleware stack, cost per request (us)", 1e6 / full - 1e6 / stripped, "{:.1f}")


def add_access_line(report: Report, cost_us: dict[str, float]) -> None:
    """The access line's cost per request, in isolation (micro.py)."""
    report.check(
        "access line, cost per request in isolation (us)",
        cost_us.get(NOW),
        f"<= {ACCESS_LINE_TARGET_US:g}",
        lambda us: us <= ACCESS_LINE_TARGET_US,
        cost_us.get(BEFORE),
    )


def add_micro(report: Report, micro: dict[str, float]) -> None:
    """Rows for micro.py's timings, in microseconds per call."""
    us = "{:.1f}"
    report.add("token verification, first use (us)", micro.get("decode_unseen"), us)
    report.add("token verification, repeat use (us)", micro.get("decode_repeat"), us)
    report.add("authorize, cached bearer token (us)", micro.get("auth_hit"), us)
    report.add("authorize, after a change: DB lookup (us)", micro.get("auth_miss"), us)
    if "auth_miss" in micro:
        lookup = micro["auth_miss"] - micro["auth_hit"]
        report.add("user lookup in the DB, miss - hit (us)", lookup, us)


def add_costs(report: Report, label: str, parts: dict[str, dict[str, float]]) -> None:
    """Rows for one configuration's request split by part (costs.py), in microseconds; a
    part only one template has (a middleware added or removed) shows in its column only."""
    now, before = parts.get(NOW, {}), parts.get(BEFORE, {})
    for part in [*now, *(name for name in before if name not in now)]:
        report.add(f"{label}: {part} (us)", now.get(part), "{:.1f}", before.get(part))


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
