"""The lower bounds in a render's pyproject.toml are tested, and its audit cannot pass blind.

One render is installed with uv at the lowest direct versions (`uv pip install
--resolution lowest-direct`): every dependency pyproject.toml names sits exactly at its
lower bound, and the render's suite and type check pass there. The option matrix in
test_generated_suite.py installs the newest versions: the two ends. This render is the
matrix's fourth row (postgresql without Redis, organizations and passkeys on), so the
combinations run once each and CI stays inside its time budget.

Installing needs the package index (uv downloads what its cache lacks), as the matrix
does; the checks need no network. `make audit` is run against a vulnerability service of
this module's own on 127.0.0.1 (pip-audit's --osv-url), so every answer it can get is
tried: a clean report, a finding, a package it could not check, and no service at all.
"""

import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_generated_suite import (
    INSTALL_TIMEOUT,
    LINT_TIMEOUT,
    RUN_TIMEOUT,
    InstalledRender,
    clean_environment,
    run,
)
from uv import find_uv_bin

from helpers import run_cookiecutter

# `name>=1.2.3` or `name[extra]==1.2.3`; a lower bound may carry a major release it stays
# below (`,<3`), which the docs' table then explains.
BOUND = re.compile(
    r"^(?P<name>[A-Za-z0-9._-]+)(\[[^\]]*\])?(>=|==)(?P<version>[^,;\s]+)(,<[0-9]+)?$"
)
# A row of the table of lower bounds in docs/dependencies.md: | package | version | why |
DOCUMENTED_BOUND = re.compile(
    r"^\| (?P<name>[A-Za-z0-9._-]+) \| (?P<version>[0-9][^ |]*)( \(exact\))? \| .+ \|$"
)
# The one combination the matrix leaves out; its suite runs against the local PostgreSQL.
LOWEST_RENDER = {
    "database": "postgresql",
    "use_redis": "no",
    "use_docker": "no",
    "multi_tenancy": "yes",
}
# Reported by the fake service below, for the package named in its `vulnerable` set.
FAKE_ADVISORY = "GHSA-fake-0000-0000"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_bounds(project: Path) -> dict[str, str]:
    """Each dependency and `dev` tool of the render's pyproject.toml, with its lower bound."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["dev"],
    ]
    bounds = {}
    for requirement in requirements:
        match = BOUND.match(requirement)
        assert match, f"{requirement}: every requirement states its lower bound (>= or ==)"
        bounds[canonical(match["name"])] = match["version"]
    return bounds


def documented_bounds(project: Path) -> dict[str, str]:
    """The lower bounds the render's docs give a reason for, from their table."""
    page = (project / "docs" / "dependencies.md").read_text(encoding="utf-8")
    section = page.split("\n## Lower bounds\n", 1)[1].split("\n## ", 1)[0]
    rows = [DOCUMENTED_BOUND.match(line) for line in section.splitlines()]
    return {canonical(row["name"]): row["version"] for row in rows if row}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "database": "postgresql",
            "use_redis": "yes",
            "jwt_library": "pyjwt",
            "use_sentry": "yes",
            "use_opentelemetry": "yes",
        },
    ],
    ids=["default", "every-option"],
)
def test_docs_give_the_reason_for_each_lower_bound(tmp_path: Path, options: dict[str, str]) -> None:
    result = run_cookiecutter(tmp_path, options)
    assert result.returncode == 0, result.stderr

    assert documented_bounds(result.project) == declared_bounds(result.project)


@pytest.fixture(scope="module")
def lowest(tmp_path_factory: pytest.TempPathFactory) -> InstalledRender:
    """The LOWEST_RENDER in a virtualenv of its own, at the lowest direct versions."""
    result = run_cookiecutter(tmp_path_factory.mktemp("lowest"), LOWEST_RENDER)
    assert result.returncode == 0, result.stderr
    venv = tmp_path_factory.mktemp("lowest-venv") / "venv"
    uv = find_uv_bin()
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], result.project, venv, 120)
    install = [uv, "pip", "install", "--quiet", "--resolution", "lowest-direct", "-e", ".[dev]"]
    try:
        run(install, result.project, venv, INSTALL_TIMEOUT)
    except AssertionError as error:
        raise AssertionError(f"installing needs the package index: {error}") from None
    return InstalledRender(result.project, venv, {})


def installed_versions(render: InstalledRender) -> dict[str, str]:
    program = (
        "import json, importlib.metadata as m;"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    listing = run(
        [render.python, "-c", program],
        render.project,
        render.venv,
        LINT_TIMEOUT,
    )
    return {canonical(name): version for name, version in json.loads(listing).items()}


def test_every_direct_dependency_installs_at_its_lower_bound(lowest: InstalledRender) -> None:
    bounds = declared_bounds(lowest.project)
    installed = installed_versions(lowest)

    # A bound that cannot be installed with the others would resolve higher: untested.
    assert {name: installed.get(name) for name in bounds} == bounds


def test_generated_suite_passes_at_the_lower_bounds(lowest: InstalledRender) -> None:
    output = run(
        [lowest.python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        lowest.project,
        lowest.venv,
        RUN_TIMEOUT,
    )

    # Coverage is the matrix renders' concern (their `make test`); here, that the suite runs
    # and nothing failed or erred. pytest's summary is the last line it prints, yet not the
    # output's last: at exit, aiosmtpd's lowest version logs a dropped connection to stderr.
    summaries = re.findall(r"^(\d+ passed.*) in [\d.]+s", output, re.MULTILINE)
    assert summaries, output[-2000:]
    assert not re.search(r"failed|error", summaries[-1]), summaries[-1]


def test_generated_code_passes_mypy_strict_at_the_lower_bounds(lowest: InstalledRender) -> None:
    run(
        [
            lowest.python,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "src",
        ],
        lowest.project,
        lowest.venv,
        LINT_TIMEOUT,
    )


@dataclass
class FakeVulnerabilityService:
    """An OSV query endpoint on 127.0.0.1: no advisory, except for the names in `vulnerable`."""

    url: str
    vulnerable: set[str]


def _handler(service: FakeVulnerabilityService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = query["package"]["name"]
            answer = {}
            if canonical(name) in service.vulnerable:
                event_range = {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "999"}],
                }
                affected = {"package": {"name": name, "ecosystem": "PyPI"}, "ranges": [event_range]}
                answer = {"vulns": [{"id": FAKE_ADVISORY, "summary": "x", "affected": [affected]}]}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            """Quiet: pytest shows the audit's own output when a test fails."""

    return Handler


@pytest.fixture
def vulnerability_service() -> Iterator[FakeVulnerabilityService]:
    service = FakeVulnerabilityService(url="", vulnerable=set())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    service.url = f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


def make_audit(render: InstalledRender, osv_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed command, no shell
        ["make", "audit", f"OSV_URL={osv_url}"],  # noqa: S607
        cwd=render.project,
        env=clean_environment(render.venv),
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT,
        check=False,
    )


@contextmanager
def package_installed_from_a_url(render: InstalledRender) -> Iterator[None]:
    """A distribution installed from a local directory, as pip records one (PEP 610).

    It has no release on PyPI to look up, so pip-audit cannot check it and skips it.
    """
    program = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(run([render.python, "-c", program], render.project, render.venv, 60))
    site_packages = Path(str(site_packages).strip())
    dist_info = site_packages / "unauditable_probe-1.0.dist-info"
    dist_info.mkdir()
    try:
        files = {
            "METADATA": "Metadata-Version: 2.1\nName: unauditable-probe\nVersion: 1.0\n",
            "direct_url.json": json.dumps({"url": "file:///srv/unauditable-probe", "dir_info": {}}),
            "INSTALLER": "pip\n",
            "RECORD": "",
        }
        for name, text in files.items():
            (dist_info / name).write_text(text, encoding="utf-8")
        yield
    finally:
        for path in dist_info.iterdir():
            path.unlink()
        dist_info.rmdir()


def test_make_audit_passes_when_the_service_reports_nothing(
    lowest: InstalledRender, vulnerability_service: FakeVulnerabilityService
) -> None:
    audit = make_audit(lowest, vulnerability_service.url)

    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No known vulnerabilities found" in audit.stdout + audit.stderr


def test_make_audit_fails_on_a_reported_vulnerability(
    lowest: InstalledRender, vulnerability_service: FakeVulnerabilityService
) -> None:
    vulnerability_service.vulnerable.add("fastapi")

    audit = make_audit(lowest, vulnerability_service.url)

    assert audit.returncode != 0
    assert FAKE_ADVISORY in audit.stdout


def test_make_audit_fails_on_a_package_it_could_not_check(
    lowest: InstalledRender, vulnerability_service: FakeVulnerabilityService
) -> None:
    with package_installed_from_a_url(lowest):
        audit = make_audit(lowest, vulnerability_service.url)

    assert audit.returncode != 0
    assert "unauditable-probe" in audit.stderr
    assert "audit skipped" not in audit.stdout


def test_make_audit_says_skipped_only_when_the_service_cannot_be_reached(
    lowest: InstalledRender,
) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as placeholder:
        closed_port = placeholder.server_address[1]  # free, and nothing listens once closed
    unreachable = f"http://127.0.0.1:{closed_port}/v1/query"

    audit = make_audit(lowest, unreachable)

    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.stdout.strip() == (
        f"audit skipped: the vulnerability service ({unreachable}) cannot be reached"
    )
