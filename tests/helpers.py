"""Shared by the template tests: render the template and read what it wrote."""

import ast
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from itertools import cycle, product
from pathlib import Path

import yaml

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
DEFAULT_SLUG = "secure_api"
SECRET_NAMES = ("SECRET_KEY", "DOCS_PASSWORD", "FIRST_ADMIN_PASSWORD")
DOCKER_FILES = ("Dockerfile", "compose.yaml", ".dockerignore")

# The observability options, (use_sentry, use_opentelemetry), each combination in turn.
OBSERVABILITY = list(product(("no", "yes"), ("no", "yes")))
# Every combination of the stores and Docker (database, use_redis, use_docker), each with
# the next observability combination: each database renders all four, and the matrix
# stays at eight renders (jwt_library has tests of its own). Organizations come with the
# renders without Docker: each database, with and without Redis, renders them.
OPTION_MATRIX = [
    {
        "database": database,
        "use_redis": use_redis,
        "use_docker": use_docker,
        "use_sentry": use_sentry,
        "use_opentelemetry": use_opentelemetry,
        "multi_tenancy": "yes" if use_docker == "no" else "no",
    }
    for (database, use_redis, use_docker), (use_sentry, use_opentelemetry) in zip(
        product(("sqlite", "postgresql"), ("no", "yes"), ("yes", "no")),
        cycle(OBSERVABILITY),
        strict=False,
    )
]


def path_without_uv() -> str:
    """The caller's PATH less every directory holding a `uv` executable."""
    directories = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(
        directory for directory in directories if shutil.which("uv", path=directory) is None
    )


def matrix_id(options: dict[str, str]) -> str:
    return "-".join(f"{name}={value}" for name, value in options.items())


def read_env(path: Path) -> dict[str, str]:
    """Parse a KEY=value file the way the generated project's dotenv does (no quotes)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, separator, value = line.partition("=")
        if separator and not name.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


@dataclass
class CookiecutterRun:
    """One run of the cookiecutter command line, in its own directories."""

    returncode: int
    stdout: str
    stderr: str
    output_dir: Path
    replay_dir: Path
    project: Path


def write_cookiecutter_config(directory: Path) -> Path:
    """A user config that keeps cookiecutter's replay and clone dirs under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "cookiecutter-config.yaml"
    settings = {
        "cookiecutters_dir": str(directory / "cookiecutters"),
        "replay_dir": str(directory / "replay"),
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return config


def run_cookiecutter(
    workdir: Path,
    context: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    template: str = str(TEMPLATE_DIR),
) -> CookiecutterRun:
    """Render `template` (this one by default: a path, or a URL) with `python -m cookiecutter
    --no-input`, as a user would."""
    config = write_cookiecutter_config(workdir)
    output_dir = workdir / "out"
    output_dir.mkdir(exist_ok=True)
    answers = [f"{name}={value}" for name, value in (context or {}).items()]
    command = [
        sys.executable,
        "-m",
        "cookiecutter",
        template,
        "--no-input",
        "--output-dir",
        str(output_dir),
        "--config-file",
        str(config),
        *extra_args,
        *answers,
    ]
    environment = {**os.environ, "HOME": str(workdir)}
    completed = subprocess.run(  # noqa: S603 - fixed command, no shell
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    return CookiecutterRun(
        returncode=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
        output_dir=output_dir,
        replay_dir=workdir / "replay",
        project=output_dir / (context or {}).get("project_slug", DEFAULT_SLUG),
    )


def settings_fields(project: Path, slug: str = DEFAULT_SLUG) -> set[str]:
    """The names of the rendered app's settings: the fields of `Settings` in its config.py,
    and of the groups of settings (classes of config.py) it is built from.

    Read from the source with `ast`, so no dependency of the render needs installing.
    """
    tree = ast.parse((project / "src" / slug / "config.py").read_text(encoding="utf-8"))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    fields: set[str] = set()
    pending = ["Settings"]
    while pending:
        cls = classes[pending.pop()]
        fields |= {
            node.target.id
            for node in cls.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        }
        pending += [
            base.id for base in cls.bases if isinstance(base, ast.Name) and base.id in classes
        ]
    return fields
