"""schemathesis fuzzes every operation of the app's own OpenAPI document as a normal user."""

import re
import subprocess
import sys
from pathlib import Path

import httpx

from .live import API, LiveApp, NewAccount

SCHEMATHESIS_TIMEOUT = 240
# Everything in schemathesis's `all` that fits this API. Left out, each for its reason:
# - positive_data_acceptance: schema-valid bodies are refused by rules a schema cannot
#   state (the password policy, single-use tokens, the current password), rightly.
# - allow_header_conformance: Starlette's 405 lists the methods of one route of a path
#   only (GET /items answers `Allow: GET` to a PUT although POST /items exists).
# - object_level_authorization: needs a second identity; test_other_users_object_is_404
#   covers it by hand.
SCHEMATHESIS_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "ignored_auth",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "use_after_free",
    "ensure_resource_availability",
)


def test_schemathesis_finds_no_failure_as_a_normal_user(
    live_app: LiveApp, http: httpx.Client, new_account: NewAccount, tmp_path: Path
) -> None:
    user = new_account()
    schema = httpx.get(f"{live_app.url}/openapi.json", auth=live_app.docs_credentials)
    assert schema.status_code == 200, schema.text
    schema_path = tmp_path / "openapi.json"
    schema_path.write_bytes(schema.content)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(schema_path),
        "--url",
        live_app.url,
        "--header",
        f"Authorization: Bearer {user.tokens['access_token']}",
        "--checks",
        ",".join(SCHEMATHESIS_CHECKS),
        "--seed",
        "6",
        "--max-examples",
        "20",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        # Logging out would end the session the whole run is authenticated with.
        "--exclude-path",
        f"{API}/auth/logout",
        "--generation-database",
        "none",
        "--no-color",
    ]
    completed = subprocess.run(  # noqa: S603 - fixed command, no shell
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_TIMEOUT,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-8000:]
    assert re.search(r"\d+ generated, \d+ passed", output), output[-3000:]
