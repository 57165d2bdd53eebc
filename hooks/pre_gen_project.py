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

# The generated project's direct dependencies, runtime and dev, under every option: each
# distribution as its pyproject.toml names it (normalised: lower case, "-" between words)
# with the import names it installs. tests/test_pre_gen_names.py fails when a render's
# pyproject.toml names a distribution missing here, or when one here is named by none.
DIRECT_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "aiosmtpd": ("aiosmtpd",),
    "aiosmtplib": ("aiosmtplib",),
    "aiosqlite": ("aiosqlite",),
    "alembic": ("alembic",),
    "argon2-cffi": ("argon2",),
    "asyncpg": ("asyncpg",),
    "bandit": ("bandit",),
    "bcrypt": ("bcrypt",),
    "cryptography": ("cryptography",),
    "email-validator": ("email_validator",),
    "fastapi": ("fastapi",),
    "fastapi-offline": ("fastapi_offline",),
    "httpx": ("httpx",),
    "libpass": ("passlib",),
    "limits": ("limits",),
    "mypy": ("mypy", "mypyc"),
    "opentelemetry-api": ("opentelemetry",),
    "opentelemetry-exporter-otlp-proto-http": ("opentelemetry",),
    "opentelemetry-instrumentation-fastapi": ("opentelemetry",),
    "opentelemetry-sdk": ("opentelemetry",),
    "pip-audit": ("pip_audit",),
    "pydantic": ("pydantic",),
    "pyotp": ("pyotp",),
    "pydantic-settings": ("pydantic_settings",),
    "pyjwt": ("jwt",),
    "pytest": ("pytest", "py"),
    "pytest-asyncio": ("pytest_asyncio",),
    "pytest-cov": ("pytest_cov",),
    "python-dotenv": ("dotenv",),
    "python-jose": ("jose",),
    "python-multipart": ("multipart", "python_multipart"),
    "redis": ("redis",),
    "ruff": ("ruff",),
    "sentry-sdk": ("sentry_sdk",),
    "sqlalchemy": ("sqlalchemy",),
    "starlette": ("starlette",),
    "uvicorn": ("uvicorn",),
    "webauthn": ("webauthn",),
}

# What those bring in turn, by import and by distribution name (as listed by
# importlib.metadata.packages_distributions() in a render installed with the dev extra;
# tests/test_pre_gen_names.py checks the default render's runtime set), and names the
# project's own layout and tools use.
INDIRECT_NAMES = frozenset(
    {
        "annotated_doc",
        "annotated_types",
        "anyio",
        "app",
        "argon2_cffi_bindings",
        "ast_serialize",
        "async_timeout",
        "asn1crypto",
        "atpublic",
        "attr",
        "attrs",
        "boolean",
        "boolean_py",
        "cachecontrol",
        "cbor2",
        "certifi",
        "cffi",
        "charset_normalizer",
        "click",
        "coverage",
        "cyclonedx",
        "cyclonedx_python_lib",
        "defusedxml",
        "deprecated",
        "dns",
        "dnspython",
        "ecdsa",
        "filelock",
        "greenlet",
        "h11",
        "httpcore",
        "httptools",
        "idna",
        "iniconfig",
        "librt",
        "license_expression",
        "mako",
        "markdown_it",
        "markdown_it_py",
        "markupsafe",
        "mdurl",
        "msgpack",
        "mypy_extensions",
        "openssl",
        "opentelemetry",
        "opentelemetry_api",
        "packageurl",
        "packageurl_python",
        "packaging",
        "packaging_legacy_version",
        "pathspec",
        "pip",
        "pip_api",
        "pip_requirements_parser",
        "pkg_resources",
        "platformdirs",
        "pluggy",
        "public",
        "py_serializable",
        "pyasn1",
        "pyasn1_modules",
        "pycparser",
        "pydantic_core",
        "pygments",
        "pyopenssl",
        "pyparsing",
        "pyyaml",
        "requests",
        "rich",
        "rsa",
        "setuptools",
        "six",
        "sortedcontainers",
        "src",
        "stevedore",
        "test",
        "tests",
        "tomli",
        "tomli_w",
        "typing_extensions",
        "typing_inspection",
        "urllib3",
        "uvloop",
        "watchfiles",
        "websockets",
        "wheel",
        "wrapt",
        "yaml",
    }
)

# A package named like one of these would shadow the module, or (named like a
# distribution) be taken by pip for the dependency itself.
TAKEN_NAMES = INDIRECT_NAMES | {
    name
    for distribution, modules in DIRECT_DEPENDENCIES.items()
    for name in (distribution.replace("-", "_"), *modules)
}

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
    if slug.lower() in TAKEN_NAMES:
        return (
            f"project_slug {slug!r} is the name of a package the project depends on, or "
            "of a module one installs, and would shadow it; choose another name."
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
