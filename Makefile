# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 1

.PHONY: install install-test run serve test test-fast lint clean

# Two installs, each recorded by its own marker: `make run` needs the runtime dependencies
# only; `make test` adds the test extras (pytest, moto, schemathesis, pyarrow, ...), also
# after a `make run` made the venv. Editing pyproject.toml redoes both.
$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $@

$(VENV)/.installed: pyproject.toml | $(VENV)/.created
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

## make install: the runtime dependencies (what `make run` and a server need).
install: $(VENV)/.installed

## make install-test: the runtime and the test dependencies (what `make test` needs).
install-test: $(VENV)/.installed-test

# `make run` is the local demo: debug on, a demo JSON API served at /demo-api/ and a sync
# reading it (so outbound calls to this machine are allowed).
RUN_ENV = DEBUG=$${DEBUG:-true} DEMO_API=true DEMO_API_BASE_URL=http://$(HOST):$(PORT) \
	OUTBOUND_ALLOWED_HOSTS=$${OUTBOUND_ALLOWED_HOSTS:-127.0.0.1,localhost}

## make run: install, migrate, load demo data (prints an API key), start server + worker.
run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo --base-url http://$(HOST):$(PORT)
	$(RUN_ENV) $(PY) manage.py serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## make test: install with the test extras, lint, run the whole test suite (DATABASE_URL
## selects the database).
test: install-test
	$(PY) -m ruff check .
	$(PY) -m pytest

## make test-fast: the inner loop: lint, then every test but those marked `slow`
## (multi-process, fuzzing, `make run` itself). CI runs everything (`make test`).
test-fast: install-test
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not slow"

lint: install-test
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) var *.egg-info
