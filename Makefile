# Two commands on a fresh machine: `make run` serves, `make test` checks everything.
# Both create .venv and install what they need; a stamp file skips the install when
# pyproject.toml has not changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run HOST=0.0.0.0 PORT=9000` overrides; otherwise the settings (API_PORT, CLAUDE_CODE_API_HOST…) decide.
SERVE_FLAGS := $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

.PHONY: run test lint typecheck unit bench clean system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/claude-code-api serve $(SERVE_FLAGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# System packages some tests need: the console's browser tests drive the distribution's Chromium (Playwright cannot
# download one here); agent mode's Bash tests need Claude Code's sandbox (bubblewrap and socat). As root, install
# what is missing; otherwise (or if apt fails) those tests skip and say why.
system-packages:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v socat >/dev/null || missing="$$missing socat"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
			|| echo "could not install$$missing: the tests that need them will skip"; \
	fi

test: lint typecheck system-packages
	$(BIN)/python -m pytest

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/unit

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
