# Strata: `make up` runs the whole stack on this machine, `make test` runs lint and every test.
SHELL := /bin/bash
VENV := .venv
STRATA := $(VENV)/bin/strata

.PHONY: up down status test lint fmt typecheck unit bench

# As root in a checkout without ./strata.toml: install mode (code and venv in /opt/strata, config in
# /etc/strata, state in /var/lib/strata, logs in /var/log/strata). DEV=1 (or not root, or a ./strata.toml
# from before): development mode, everything in the checkout (.venv, ./strata.toml, ./var). scripts/site.sh.
DEV ?=
export DEV
up:
	@bash scripts/site.sh up

down:
	@bash scripts/site.sh down

status:
	@bash scripts/site.sh status

lint: typecheck
	$(VENV)/bin/ruff check strata tests bench
	$(VENV)/bin/ruff format --check strata tests bench
	$(VENV)/bin/lint-imports --no-cache
	@mkdir -p var/ansible
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_HOME="$(CURDIR)/var/ansible/home" \
	  ANSIBLE_LOCAL_TEMP="$(CURDIR)/var/ansible/tmp" XDG_CACHE_HOME="$(CURDIR)/var/ansible/cache" \
	  $(VENV)/bin/ansible-lint -q --nocolor -c deploy/ansible/.ansible-lint deploy/ansible/

# Rewrite the code in the house style (the check is part of `make lint`).
fmt:
	@bash scripts/bootstrap.sh test
	$(VENV)/bin/ruff format strata tests bench
	$(VENV)/bin/ruff check --fix strata tests bench

# mypy with django-stubs: its Django plugin imports the settings, which read a topology and its secrets; a
# throwaway one under var/typecheck/ is written on first use (never the site's own strata.toml).
TYPECHECK_CONFIG := $(CURDIR)/var/typecheck/strata.toml
typecheck:
	@bash scripts/bootstrap.sh test
	@[ -e $(TYPECHECK_CONFIG) ] || $(STRATA) -c $(TYPECHECK_CONFIG) init >/dev/null
	STRATA_CONFIG=$(TYPECHECK_CONFIG) $(VENV)/bin/mypy strata

# One process by default (what CI runs). PYTEST_WORKERS=2 runs all but the lab tier on two pytest-xdist
# workers, then the lab tier in one process: not the default yet, as on two cores some browser tests failed
# with two stacks running at once, and the lab's hosts were seen answering with another certificate chain
# under a worker (neither understood yet).
PYTEST_WORKERS ?= 0
test: lint
ifeq ($(PYTEST_WORKERS),0)
	$(VENV)/bin/python -m pytest
else
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not lab"
	$(VENV)/bin/python -m pytest -m lab
endif

# Lint, the unit tests and the in-process tier (tests/app: Django against one real PostgreSQL, no other server).
unit:
	@bash scripts/bootstrap.sh test
	$(VENV)/bin/ruff check strata tests bench
	$(VENV)/bin/ruff format --check strata tests bench
	$(VENV)/bin/python -m pytest -m "not integration and not browser and not lab"

# P1-P6 on one stack (and the lab's cross-host download as root): bench/reports/latest.md, history.jsonl
# and the charts. The single benchmarks (python -m bench.NAME) keep their own reports.
bench:
	@bash scripts/bootstrap.sh test
	$(VENV)/bin/python -m bench.run
