# make venv   tools for the template, in .venv (re-installed when requirements-dev.txt changes)
# make test   the template's test suite: renders, hooks, and each render's own suite
# make demo   render the default project into .demo/ and serve it on 127.0.0.1:8000

PYTHON ?= python3
VENV := .venv
DEMO := .demo/secure_api

.PHONY: venv test demo clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Two workers (the CI machine's cores). loadscope keeps a module's, or a test class's,
# tests on one worker: module fixtures are set up once, and the sqlite and postgresql
# renders of the option matrix (two classes) run side by side. --durations names the
# slow tests in CI's log, to keep the run inside its time budget.
test: venv
	$(VENV)/bin/python -m pytest tests -n 2 --dist loadscope --durations=15 $(PYTEST_ARGS)

demo: venv
	$(VENV)/bin/cookiecutter . --no-input --overwrite-if-exists --output-dir .demo
	test -x $(DEMO)/.venv/bin/python || $(PYTHON) -m venv $(DEMO)/.venv
	$(DEMO)/.venv/bin/python -m pip install --quiet --disable-pip-version-check -e $(DEMO)
	@echo
	@echo "API docs: http://127.0.0.1:8000/docs"
	@echo "Credentials (DOCS_USERNAME/DOCS_PASSWORD for the docs, FIRST_ADMIN_USERNAME/FIRST_ADMIN_PASSWORD"
	@echo "for the first admin) are in $(DEMO)/.env. Stop the server with Ctrl-C."
	@echo
	cd $(DEMO) && .venv/bin/python -m secure_api

clean:
	rm -rf .demo .pytest_cache .ruff_cache
