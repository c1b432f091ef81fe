# Two commands: `make demo` and `make test`. Each bootstraps .venv on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What the demo's bot runs on: botbuilder or agents (the Microsoft 365 Agents SDK).
RUNTIME ?= botbuilder

.PHONY: demo test lint bench tools clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,azure,ai,bench,agents]'
	touch $(STAMP)

# Debian's Chromium for the UI tests and Azurite (npm) for the Blob storage tests.
tools: $(STAMP)
	bash scripts/install-test-tools

demo: $(STAMP)
	$(BIN)/python -m sample_bot.demo --runtime $(RUNTIME)

test: $(STAMP) tools
	$(BIN)/ruff check bot_telemetry sample_bot tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.turn_overhead --json --runtime both
	$(BIN)/python -m benchmarks.load --json
	$(BIN)/python -m benchmarks.ingest --json

clean:
	rm -rf $(VENV) .bot-telemetry .tools
