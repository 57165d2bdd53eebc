"""Hostile clients against a rendered, running app, and bandit over the template's code.

The default render is installed and served by `python -m secure_api` once for this
package (once per test process: pytest-xdist may share its modules out), with cheap
Argon2, rate limits out of the way and one allowed CORS origin (conftest.py). Then, one
module per concern:

- test_schemathesis: schemathesis fuzzes every operation of the app's own OpenAPI
  document as a normal user;
- named attacks over real HTTP, each with its exact answer (so never a 500): forged and
  broken JWTs (test_jwt), role and scope escalation (test_escalation), other users'
  objects (test_other_users_objects), mass assignment (test_mass_assignment), oversize
  and malformed bodies (test_bodies), header injection (test_header_injection), CORS from
  foreign origins (test_cors);
- test_static_analysis: bandit finds no medium or high issue in the template's own Python.

The render's own `src` under bandit and its `make audit` are checked, for every database
option, in test_generated_suite.py.
"""
