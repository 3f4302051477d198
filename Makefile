# The two commands users need: `make demo` and `make test`. Both bootstrap everything they use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every venv installs exact versions with hashes from locks/ (`make lock` refreshes them from the declared
# ranges; see scripts/lock.py). The plugins themselves are installed editable, without dependencies.
LOCK          := locks/project.txt
PLUGINS       := tap-yandex-tracker/pyproject.toml target-clickhouse-agile/pyproject.toml simulator/pyproject.toml
# Meltano lives in its own venv: its dependencies may clash with singer-sdk's.
MELTANO_VENV  := .venv-meltano
MELTANO       := $(MELTANO_VENV)/bin/meltano
MELTANO_LOCK  := locks/meltano.txt
MELTANO_STAMP := $(MELTANO_VENV)/.installed
MELTANO_FIX   := scripts/meltano_loader_test_fix.py

.PHONY: dev test test-fast test-long lint format demo clickhouse bench docs clean meltano meltano-demo lock \
	mutation-check

$(STAMP): $(LOCK) $(PLUGINS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation \
	  -e ./tap-yandex-tracker -e ./target-clickhouse-agile -e ./simulator
	$(BIN)/python -m pip check
	@touch $(STAMP)

## dev: the development environment (venv with both packages editable plus test tools)
dev: $(STAMP)

$(MELTANO_STAMP): $(MELTANO_LOCK) $(MELTANO_FIX)
	@test -x $(MELTANO_VENV)/bin/python || $(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install -q --require-hashes --no-deps -r $(MELTANO_LOCK)
	$(MELTANO_VENV)/bin/python -m pip check
	@site=$$($(MELTANO_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	  cp $(MELTANO_FIX) "$$site/" && \
	  echo 'import meltano_loader_test_fix; meltano_loader_test_fix.apply()' > "$$site/meltano_loader_test_fix.pth"
	@touch $(MELTANO_STAMP)

## meltano: Meltano 4 in .venv-meltano (plugins then install with `.venv-meltano/bin/meltano install`)
meltano: $(MELTANO_STAMP)

## lock: re-resolve locks/*.txt from the declared ranges (then `make test`, then commit the lock files)
lock: $(STAMP) $(MELTANO_STAMP)
	$(BIN)/python scripts/lock.py --uv $(MELTANO_VENV)/bin/uv

## meltano-demo: the demo through Meltano (simulator on 127.0.0.1:8765, embedded ClickHouse in .meltano-demo/)
meltano-demo: $(STAMP) $(MELTANO_STAMP)
	bash examples/meltano-demo.sh

## clickhouse: install the Debian clickhouse-server the tests start on loopback
clickhouse:
	@bash scripts/install-clickhouse.sh

## test: the whole suite (real ClickHouse server, embedded chdb, simulator over HTTP), then the mutation check
test: $(STAMP) $(MELTANO_STAMP) clickhouse
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
	$(BIN)/python scripts/mutation_check.py

## mutation-check: plant the bugs that once survived the suite, one at a time; each must be caught
mutation-check: $(STAMP) clickhouse
	$(BIN)/python scripts/mutation_check.py

## test-long: the long variants (scale, soak) behind the `long` marker
test-long: $(STAMP) clickhouse
	$(BIN)/python -m pytest -m long

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## demo: simulator + tap + target into embedded ClickHouse, then a summary
demo: $(STAMP)
	$(BIN)/python -m demo

## bench: benchmarks (not tests); writes tables under benchmarks/results/
bench: $(STAMP) $(MELTANO_STAMP) clickhouse
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.throughput
	$(BIN)/python -m benchmarks.limiter_model
	$(BIN)/python -m benchmarks.cpu_versus
	$(BIN)/python -m benchmarks.instructions
	$(BIN)/python -m benchmarks.meltano_run
	$(BIN)/python -m benchmarks.remote_server
	$(BIN)/python -m benchmarks.scale_100k

clean:
	rm -rf $(VENV) $(MELTANO_VENV) .pytest_cache .ruff_cache .demo .meltano .meltano-demo
