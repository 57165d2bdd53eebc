"""What the throughput runs serve: each render, access log on or off, with N workers."""

from dataclasses import dataclass

# The cookiecutter answers of each render served.
RENDERS: dict[str, dict[str, str]] = {
    "default": {},
    "production": {"database": "postgresql", "use_redis": "yes"},
}
# Two workers against one, the render's scaling over the bare app's (issue 14).
SCALING_TARGET = 0.9


@dataclass(frozen=True)
class Configuration:
    """One way of serving a render: its row in the table, and its target if it has one."""

    label: str
    render: str
    access_log: bool
    workers: int
    target: float | None = None

    @property
    def key(self) -> str:
        return f"{self.render}-log-{'on' if self.access_log else 'off'}-{self.workers}w"


# The first is the headline: what the README asks for with more than one worker.
CONFIGURATIONS = (
    Configuration("postgresql + Redis, access log on, 1 worker", "production", True, 1, 0.5),
    Configuration("postgresql + Redis, access log off, 1 worker", "production", False, 1),
    Configuration("default (SQLite), access log on, 1 worker", "default", True, 1, 0.65),
    Configuration("default (SQLite), access log off, 1 worker", "default", False, 1),
    Configuration("postgresql + Redis, access log on, 2 workers", "production", True, 2),
)
HEADLINE = CONFIGURATIONS[0]
# The scaling compares these two, and the bare app with as many workers.
ONE_WORKER, TWO_WORKERS = CONFIGURATIONS[0], CONFIGURATIONS[-1]
WORKER_COUNTS = sorted({configuration.workers for configuration in CONFIGURATIONS})


def app_target(version: str, configuration: Configuration) -> str:
    """The name of a served configuration among the throughput targets."""
    return f"{version}-{configuration.key}"


def bare_target(workers: int) -> str:
    return f"bare-{workers}w"
