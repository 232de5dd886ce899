# Lakana — developer commands. The README's two commands are `make demo` and `make test`.
UV ?= uv
PYTEST ?= $(UV) run pytest
# pytest-xdist workers: one per core (each has its own SQLite files or PostgreSQL database)
WORKERS ?= auto

.PHONY: setup demo serve test test-sqlite test-postgres test-e2e test-cluster lint bench clean

setup:                          ## install uv (if missing) and the locked dependencies
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.8"
	$(UV) sync --frozen

demo: setup                     ## run Lakana with demo data on SQLite (./var)
	$(UV) run lakana demo --serve

serve: setup
	$(UV) run lakana serve

lint: setup                     ## ruff, mypy (strict on src), import-linter contracts
	$(UV) run ruff check src tests bench
	$(UV) run mypy
	$(UV) run lint-imports

test-sqlite: setup
	$(PYTEST) -q -n $(WORKERS) -m "not e2e and not cluster" --cov --cov-report=term:skip-covered

test-postgres: setup
	scripts/with-postgres.sh $(PYTEST) -q -n $(WORKERS) -m "not e2e and not cluster" -p no:randomly

test-e2e: setup
	$(PYTEST) -q -m e2e

# The Ray cluster test on its own: it starts some fifteen processes, too many to share two
# cores with the xdist workers and stay within its time limits.
test-cluster: setup
	$(PYTEST) -q -m cluster -p no:randomly

test: lint test-sqlite test-postgres test-e2e test-cluster   ## the whole suite: lint, SQLite, PostgreSQL, browser, Ray cluster

bench: setup                    ## benchmarks: each prints a table against its baseline
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || true
	@# bench_heatmap, bench_public_intake and bench_strategy_indicators also measure
	@# PostgreSQL when it is installed
	@for b in bench/bench_*.py; do echo "== $$b"; \
	  if { [ "$$b" = bench/bench_heatmap.py ] || [ "$$b" = bench/bench_public_intake.py ] || \
	       [ "$$b" = bench/bench_strategy_indicators.py ]; } && \
	     ls $${PG_BIN:-/usr/lib/postgresql/*/bin}/initdb >/dev/null 2>&1; then \
	    scripts/with-postgres.sh $(UV) run python $$b || exit 1; \
	  else $(UV) run python $$b || exit 1; fi; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .coverage
