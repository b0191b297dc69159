# The two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck unit integration bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## run: start the bus on the embedded broker, feed the sample documents, deliver to the demo receiver
run: setup
	$(BIN)/tracebus up --samples --demo-receiver

## test: lint, type-check, unit tests (fast, no sockets to Kafka), then integration tests (embedded broker)
test: setup lint typecheck unit bench-smoke integration

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit -q

integration: setup
	$(BIN)/pytest tests/integration -q --durations=12

bench: setup
	$(BIN)/python bench/codec.py
	$(BIN)/python bench/event_hash.py
	$(BIN)/python bench/capture.py
	$(BIN)/tracebus bench pipeline

# a short run of every benchmark inside `make test`, so the scripts cannot rot
bench-smoke: setup
	$(BIN)/python bench/codec.py --seconds 0.2
	$(BIN)/python bench/event_hash.py --seconds 0.2
	$(BIN)/python bench/capture.py --documents 10 --processes 1
	$(BIN)/tracebus bench pipeline --events 3000 --latency-seconds 2 --rss-keys 20000 --latency-rounds 1

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
