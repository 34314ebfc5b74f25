# coop: `make run` and `make test` do all the set-up on a fresh machine.
#
# Installs come from the lock files only, every file checked against its hash:
# requirements/run.txt (what running coop needs: the package's dependencies, the pg extra and
# what coop is built with) and requirements/dev.txt (that, plus the tests' and the linters'),
# both compiled by `make lock` from pyproject.toml for Python $(LOCK_PYTHON) on Linux x86_64.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp
PIP := $(BIN)/python -m pip --quiet
LOCK_PYTHON := 3.11
export COOP_DATABASE_URL ?= sqlite:///coop.db

.PHONY: setup setup-run system-deps run test test-fast test-pg lint lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A stamp is older than a lock or pyproject.toml when one of them changed: then it installs
# again. coop itself goes in editable, without its dependencies (the lock has them).
$(RUN_STAMP): requirements/run.txt pyproject.toml | $(BIN)/python
	$(PIP) install --require-hashes -r requirements/run.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

$(DEV_STAMP): requirements/dev.txt $(RUN_STAMP)
	$(PIP) install --require-hashes -r requirements/dev.txt
	touch $@

setup-run: $(RUN_STAMP)

setup: $(DEV_STAMP)

system-deps:
	@scripts/system-deps.sh

# Refresh the locks after changing pyproject.toml's dependencies (pins already in the locks
# are kept where they still fit); `make lock UPGRADE=1` takes the newest releases instead.
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes --python-version $(LOCK_PYTHON) \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
	$(if $(UPGRADE),--upgrade)
lock: setup
	$(LOCK) pyproject.toml requirements/build.in --extra pg -o requirements/run.txt
	$(LOCK) pyproject.toml requirements/build.in --extra pg --extra dev \
		-c requirements/run.txt -o requirements/dev.txt

# Only what running needs: the run lock (no test runner, browser driver or linter) and the
# fonts; the tests' Debian packages come with `make test`.
run: setup-run
	@scripts/system-deps.sh --run
	$(BIN)/coop init
	$(BIN)/coop demo --if-empty
	$(BIN)/coop serve --host 127.0.0.1 --port 8000

# The suites run again on the SQLite driver that `coop serve --workers N` uses (APSW's own
# SQLite through coop.db_apsw, COOP_SQLITE_DRIVER=apsw): the adapter's tests, the ledger,
# exactly-once, concurrency, members, immutability, backup and restore (about 20 s).
APSW_SUITES := tests/unit/test_db_apsw.py tests/integration/test_ledger_examples.py \
	tests/integration/test_exactly_once.py tests/integration/test_concurrency.py \
	tests/api/test_members_api.py tests/integration/test_immutability.py \
	tests/integration/test_backup_restore.py

# Two workers for everything but the kill -9 harness (it forks, kills and times processes of
# its own), which runs after them in one process. The browser tests share the two workers
# (each worker its own Chromium, server and database). Then the APSW suites above.
test: setup system-deps
	$(BIN)/pytest -n 2 --durations=12 --ignore=tests/crash
	$(BIN)/pytest tests/crash
	COOP_TEST_DATABASE_URL= COOP_SQLITE_DRIVER=apsw $(BIN)/pytest -q $(APSW_SUITES)

# While you work: everything but the tests marked slow (concurrency, large books, stateful
# fuzzing, schemathesis, restore drills), on two workers, with the time it took.
test-fast: setup system-deps
	@start=$$(date +%s); $(BIN)/pytest -n 2 -m "not slow" --ignore=tests/crash --ignore=tests/e2e; \
	status=$$?; echo "test-fast: $$(( $$(date +%s) - start )) s"; exit $$status

test-pg: setup system-deps
	COOP_TEST_DATABASE_URL=$${COOP_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -n 2 --ignore=tests/crash
	COOP_TEST_DATABASE_URL=$${COOP_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest tests/crash

lint: setup
	$(BIN)/ruff check coop tests bench
	$(BIN)/mypy --strict coop
	$(BIN)/lint-imports
	d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	COOP_DATABASE_URL=sqlite:///$$d/check.db $(BIN)/alembic upgrade head && \
	COOP_DATABASE_URL=sqlite:///$$d/check.db $(BIN)/alembic check

# Issue 20's figures, each beside its same-run reference and the ratio: post() against plain
# sqlite3 and plain psycopg; deposits through the API under wrk against a plain reference
# server; verify of a million entries against plain sqlite3 + sha256; the 10-minute soak's
# memory. About 25 minutes; needs wrk (Debian package) and the PostgreSQL server.
BENCH_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432/coop_bench
bench: setup
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python bench/ledger.py --pg $(BENCH_PG)
	$(BIN)/python bench/deposits.py --pg $(BENCH_PG)
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/soak.py --minutes 10

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
