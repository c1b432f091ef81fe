# Two commands: `make demo` and `make test`. Each bootstraps .venv on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What the demo's bot runs on: botbuilder or agents (the Microsoft 365 Agents SDK).
RUNTIME ?= botbuilder

.PHONY: demo test coverage lint bench tools webchat clean

# A target's prerequisites are made side by side: the virtualenv (pip) while the test tools
# (apt, npm) or the web chat page (npm) install, about a minute less on a fresh machine.
MAKEFLAGS += --jobs=2

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,azure,ai,bench,clickhouse,agents]'
	touch $(STAMP)

# Debian's Chromium for the UI tests and Azurite (npm) for the Blob storage tests; none of it
# needs the virtualenv.
tools:
	bash scripts/install-test-tools

# The sample's web chat page from npm packages (Web Chat, OpenTelemetry JS, the Sunbird SDK);
# without Node.js the demo runs without it.
webchat:
	bash scripts/build-webchat || echo "make: the web chat page is not built; the demo runs without it" >&2

demo: $(STAMP) webchat
	$(BIN)/python -m sample_bot.demo --runtime $(RUNTIME)

# ruff (lint and format), mypy --strict, then the suite. Coverage is `make coverage`: it made
# the suite ~10% slower (56 s of 9 min), and CI keeps no output of a run that passes.
# Two workers (pytest-xdist), a test file to each at a time (a file's fixtures are built
# once). The suite keeps both cores ~90% busy: a third worker made it no faster
# (docs/architecture.md).
test: $(STAMP) tools
	$(BIN)/ruff check bot_telemetry sample_bot tests benchmarks examples
	$(BIN)/ruff format --check bot_telemetry sample_bot tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile

# The suite with coverage of bot_telemetry: files under 100% and the TOTAL line, printed just
# before pytest's closing line.
coverage: $(STAMP) tools
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered

bench: $(STAMP)
	$(BIN)/python -m benchmarks.turn_overhead --json --runtime both
	$(BIN)/python -m benchmarks.load --json
	$(BIN)/python -m benchmarks.ingest --json
	$(BIN)/python -m benchmarks.posthog --json

clean:
	rm -rf $(VENV) .bot-telemetry .tools sample_bot/webchat/node_modules sample_bot/webchat/dist
