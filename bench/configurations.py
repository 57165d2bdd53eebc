"""What the throughput runs serve: each render, access log on or off, with N workers."""

from dataclasses import dataclass

# The cookiecutter answers of each render served.
RENDERS: dict[str, dict[str, str]] = {
    "default": {},
    "production": {"database": "postgresql", "use_redis": "yes"},
    "default-tenancy": {"multi_tenancy": "yes"},
    "production-tenancy": {"database": "postgresql", "use_redis": "yes", "multi_tenancy": "yes"},
}
# Two workers against one, the render's scaling over the bare app's (issue 14).
SCALING_TARGET = 0.9
# Tenancy on against off, the same render otherwise: at most 10% cost (issue 23).
TENANCY_TARGET = 0.9


def on_postgresql(render: str) -> bool:
    return RENDERS[render].get("database") == "postgresql"


def with_tenancy(render: str) -> bool:
    """Whether `render` has organizations, which an earlier template (--before) may not
    offer: it serves these renders for the current template only."""
    return RENDERS[render].get("multi_tenancy") == "yes"


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
    Configuration(
        "postgresql + Redis + tenancy, access log on, 1 worker", "production-tenancy", True, 1
    ),
    Configuration(
        "default (SQLite) + tenancy, access log on, 1 worker", "default-tenancy", True, 1
    ),
    Configuration("postgresql + Redis, access log on, 2 workers", "production", True, 2),
)
HEADLINE = CONFIGURATIONS[0]
# Split by part in microseconds per request (costs.py): the headline, and the default
# render as most people first run it.
COSTED = (HEADLINE, CONFIGURATIONS[2])
# The scaling compares these two, and the bare app with as many workers.
ONE_WORKER, TWO_WORKERS = CONFIGURATIONS[0], CONFIGURATIONS[-1]
WORKER_COUNTS = sorted({configuration.workers for configuration in CONFIGURATIONS})


def _served(render: str, access_log: bool = True, workers: int = 1) -> Configuration:
    return next(
        configuration
        for configuration in CONFIGURATIONS
        if (configuration.render, configuration.access_log, configuration.workers)
        == (render, access_log, workers)
    )


# The cost of tenancy per database: (database, tenancy on, the same render without it).
TENANCY_PAIRS = (
    ("postgresql + Redis", _served("production-tenancy"), _served("production")),
    ("default (SQLite)", _served("default-tenancy"), _served("default")),
)


def app_target(version: str, configuration: Configuration) -> str:
    """The name of a served configuration among the throughput targets."""
    return f"{version}-{configuration.key}"


def bare_target(workers: int) -> str:
    return f"bare-{workers}w"
