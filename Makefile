# venuefeed: `make run` and `make test` set everything up on a machine with only python3.
# Recipes that run venuefeed are silent (@) and setup talks on stderr, so that stdout is
# venuefeed's own: `make run | jq` works.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# empty: ./venues.toml if present, else the packaged defaults (`venuefeed init` writes them)
CONFIG ?=
ARGS   ?=

.PHONY: setup run test lint typecheck bench fuzz mutate demo soak cluster-demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (once)" >&2
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e '.[dev]' >&2
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/venuefeed run $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check venuefeed tests bench
	$(BIN)/ruff format --check venuefeed tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict venuefeed

# Three workers on two cores: the tests mostly wait on loopback timers, not the CPU.
test: lint typecheck
	$(BIN)/pytest -n 3

bench: $(STAMP)
	$(BIN)/python -m bench.throughput $(ARGS)

# Mutation testing of the core modules that own an audit behaviour (not part of
# `make test`; tens of minutes). Resumable: a second run re-tests only what changed.
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet 'mutmut>=3.8,<4'
	$(BIN)/mutmut run --max-children 2 > mutants-run.log 2>&1 || true
	$(BIN)/python -m bench.mutation

# Parser fuzzing, 100,000 mutated frames per venue (not part of `make test`).
fuzz: $(STAMP)
	$(BIN)/python -m bench.fuzz $(ARGS)

demo: $(STAMP)
	@$(BIN)/venuefeed run --sim --chaos heavy --duration 60 --config examples/demo.toml \
		--chaos-file examples/chaos.toml --report demo-report.json --report demo-report.html

soak: $(STAMP)
	@$(BIN)/venuefeed run --sim --chaos heavy --duration 600 --report report.json \
		--report report.html --sink jsonl:/dev/null

# A three-node NATS cluster, `venuefeed sim`, two shards run by two engines each and a
# tail; one engine per shard and one NATS node SIGKILLed midway. Prints per venue the trades
# sent, received, duplicates, lost and the longest gap; exits 1 on a loss or a duplicate.
# ARGS="--duration 120" for longer (default 60 s, plus ~20 s of start and drain).
cluster-demo: $(STAMP)
	@$(BIN)/python -m bench.cluster_demo $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info mutants mutants-run.log \
		report.json report.html demo-report.json demo-report.html
