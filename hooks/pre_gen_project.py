"""Refuse answers that would render a broken project, before anything is written.

Cookiecutter renders this file with Jinja. Each answer arrives as a JSON string
inside a raw '''-quoted literal: `tojson` escapes every single quote (and
backslashes, double quotes and newlines), so no answer can end the literal early
or change this script. The formatter is kept off those lines: it would switch
them to double quotes, which the JSON's own quotes would break.
"""

import json
import keyword
import re
import sys

# fmt: off
PROJECT_SLUG: str = json.loads(r'''{{ cookiecutter.project_slug | tojson }}''')
AUTHOR_EMAIL: str = json.loads(r'''{{ cookiecutter.author_email | tojson }}''')
FREE_TEXT: dict[str, str] = {
    "project_name": json.loads(r'''{{ cookiecutter.project_name | tojson }}'''),
    "description": json.loads(r'''{{ cookiecutter.description | tojson }}'''),
    "author_name": json.loads(r'''{{ cookiecutter.author_name | tojson }}'''),
}
# fmt: on

# ASCII, starts with a letter, does not end with "_": an import name that is also
# a valid distribution name for pyproject.toml.
SLUG_PATTERN = re.compile(r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?")

# One "@", a non-empty local part, a dotted domain; no spaces, quotes or
# backslashes, so the address is safe inside pyproject.toml and .env.
EMAIL_PATTERN = re.compile(r'[^@\s"\\]+@[^@\s"\\.]+(?:\.[^@\s"\\.]+)+')

# The free-text answers are written inside double-quoted strings (pyproject.toml,
# Python source), where these characters would end or escape the string.
FORBIDDEN_TEXT_CHARACTERS = frozenset('"\\')

# Import names of the generated project's dependencies (direct, transitive and
# dev), plus names its own layout or tools already use. A package with one of
# these names would shadow the real module.
DEPENDENCY_MODULES = frozenset(
    {
        "alembic",
        "aiosqlite",
        "annotated_types",
        "anyio",
        "app",
        "argon2",
        "asyncpg",
        "bandit",
        "bcrypt",
        "certifi",
        "cffi",
        "click",
        "dns",
        "dotenv",
        "ecdsa",
        "email_validator",
        "fastapi",
        "greenlet",
        "h11",
        "httpcore",
        "httptools",
        "httpx",
        "idna",
        "jose",
        "jwt",
        "libpass",
        "limits",
        "mako",
        "markupsafe",
        "multipart",
        "mypy",
        "passlib",
        "pip",
        "pkg_resources",
        "pyasn1",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "pytest",
        "pytest_asyncio",
        "python_multipart",
        "redis",
        "rsa",
        "ruff",
        "setuptools",
        "slowapi",
        "sniffio",
        "sqlalchemy",
        "src",
        "starlette",
        "test",
        "tests",
        "typing_extensions",
        "uvicorn",
        "uvloop",
        "watchfiles",
        "websockets",
        "wheel",
        "wrapt",
        "yaml",
    }
)

STDLIB_MODULES = frozenset(name.lower() for name in sys.stdlib_module_names)


def slug_problem(slug: str) -> str | None:
    """Say what is wrong with `slug` as the package name, or None if it is fine."""
    if not SLUG_PATTERN.fullmatch(slug):
        return (
            f"project_slug {slug!r} is not a valid package name: use ASCII letters, "
            "digits and underscores, starting with a letter (for example my_api)."
        )
    if keyword.iskeyword(slug):
        return f"project_slug {slug!r} is a Python keyword; choose another name."
    # Compared case-insensitively: pip and case-insensitive file systems do.
    if slug.lower() in STDLIB_MODULES:
        return (
            f"project_slug {slug!r} is the name of a Python standard library module "
            "and would shadow it; choose another name."
        )
    if slug.lower() in DEPENDENCY_MODULES:
        return (
            f"project_slug {slug!r} is the import name of a package the project "
            "depends on and would shadow it; choose another name."
        )
    return None


def email_problem(email: str) -> str | None:
    """Say what is wrong with `email` as the author's address, or None if it is fine."""
    if not EMAIL_PATTERN.fullmatch(email):
        return (
            f"author_email {email!r} is not a valid email address "
            "(expected something like you@example.com)."
        )
    return None


def text_problem(field: str, text: str) -> str | None:
    """Say why `text` cannot go into the project's quoted strings, or None if it can."""
    if not text.strip():
        return f"{field} is empty; give it a value."
    if any(char in text for char in FORBIDDEN_TEXT_CHARACTERS) or not text.isprintable():
        return (
            f"{field} {text!r} contains a double quote, a backslash or a control "
            "character; leave them out."
        )
    return None


def main() -> int:
    problems = [slug_problem(PROJECT_SLUG), email_problem(AUTHOR_EMAIL)]
    problems += [text_problem(field, text) for field, text in FREE_TEXT.items()]
    for problem in problems:
        if problem is not None:
            print(f"ERROR: {problem}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
