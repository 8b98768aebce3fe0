# xflow — two commands: `make run` (the platform) and `make test` (the suite).
# Both install what is missing (system packages, the virtualenv) and start the services
# the platform needs on 127.0.0.1, reusing any that already run.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements.stamp

.PHONY: run test services venv lint format bench clean-run

run: $(STAMP)
	$(PY) scripts/devstack.py run

test: $(STAMP)
	$(PY) scripts/devstack.py test $(PYTEST_ARGS)

services: $(STAMP)
	$(PY) scripts/devstack.py services

venv: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "[xflow] installing python3-venv"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq python3-venv; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) bench/engine.py

clean-run:
	rm -rf .run
