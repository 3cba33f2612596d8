# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 1

.PHONY: install run serve test lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# `make run` is the local demo: debug on, a demo JSON API served at /demo-api/ and a sync
# reading it (so outbound calls to this machine are allowed).
RUN_ENV = DEBUG=$${DEBUG:-true} DEMO_API=true DEMO_API_BASE_URL=http://$(HOST):$(PORT) \
	OUTBOUND_ALLOWED_HOSTS=$${OUTBOUND_ALLOWED_HOSTS:-127.0.0.1,localhost}

## make run: install, migrate, load demo data (prints an API key), start server + worker.
run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) $(PY) manage.py serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## make test: install, lint, run the whole test suite (DATABASE_URL selects the database).
test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) var *.egg-info
