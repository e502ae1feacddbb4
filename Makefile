# Puente: `make run` and `make test` are all a new machine needs.
# Every target is idempotent; stamps and file dates decide what is redone.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV       := .venv
RASA_VENV  := .venv-rasa
BIN        := $(VENV)/bin
RASA       := $(RASA_VENV)/bin/rasa
UV_VERSION := 0.13.9
UV         := .uv/bin/uv
# uv uses the Pythons found here and never downloads one.
export UV_PYTHON_DOWNLOADS := never
MODEL      := models/puente.tar.gz
# What the model is trained from: a change to any of these retrains it.
BOT_FILES  := $(shell find bot nlu_data -type f -not -path '*/__pycache__/*' -not -name endpoints.yml -not -name credentials.yml -not -name logging.yml -not -name log_privacy.py 2>/dev/null)
RASA_ENV   := PYTHONWARNINGS=ignore RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONDONTWRITEBYTECODE=1

# The app runs on Python 3.11+; Rasa 3.6 needs Python 3.10. Found on PATH or through pyenv.
PYTHON     ?= python3
define find_python310
if command -v python3.10 >/dev/null 2>&1 && python3.10 -c '' >/dev/null 2>&1; then command -v python3.10; \
elif command -v pyenv >/dev/null 2>&1 && v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$$' | tail -n 1) && [ -n "$$v" ]; then \
  PYENV_VERSION=$$v pyenv which python3.10; fi
endef

.PHONY: help setup lock run test train lint types i18n i18n-merge nlu-report i18n-extract migrate env pytest rasa-validate rasa-test bench bench-fanout bench-burst clean browser-check

help:
	@echo "make run    set up what is missing, then run webhooks, rasa, actions and the worker (Ctrl-C stops all)"
	@echo "make test   set up what is missing, then lint, types, i18n, the test suite and rasa's checks"
	@echo "make setup  only the set-up: venvs, .env secrets, catalogs, database, trained model"
	@echo "make train  retrain the Rasa model if bot/ or nlu_data/ changed"
	@echo "make bench  webhook latency against Rasa's REST channel (bench/latency)"
	@echo "make bench-fanout  a broadcast to 10,000 and 100,000 through the worker and a fake Twilio (bench/fanout)"
	@echo "make bench-burst   1,000 RSVP replies while a broadcast sends (bench/burst)"
	@echo "make nlu-report  intents and language identification on the frozen held-out set"

setup: $(VENV)/.installed $(RASA_VENV)/.installed env i18n migrate $(MODEL)

# --- environments -----------------------------------------------------------
# Both venvs are installed by uv (pip takes minutes on the Rasa venv, uv seconds),
# from lock files with hashes. uv itself is bootstrapped into .uv/ from PyPI with pip.
$(UV):
	@echo "setup: uv $(UV_VERSION) into .uv/ (installs both venvs)"
	@$(PYTHON) -m venv .uv
	@.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml requirements.lock | $(UV)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "setup: Python 3.11 or newer is needed as '$(PYTHON)': install it (pyenv install 3.11) or run 'make PYTHON=/path/to/python3.11'." >&2; exit 1; }
	@echo "setup: app venv $(VENV) (Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'))"
	@$(UV) venv --quiet --allow-existing --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $(VENV)
	$(UV) pip sync --quiet --require-hashes --python $(VENV)/bin/python requirements.lock
	$(UV) pip install --quiet --no-deps --python $(VENV)/bin/python -e .
	@touch $@

$(RASA_VENV)/.installed: requirements-rasa.lock | $(UV)
	@py310="$$($(find_python310))"; if [ -z "$$py310" ]; then \
	  echo "setup: Python 3.10 is needed for Rasa 3.6 and was not found: install it (pyenv install 3.10, or your distribution's python3.10) and run make again." >&2; exit 1; fi; \
	echo "setup: Rasa venv $(RASA_VENV) with $$py310 (rasa==3.6.21, under a minute with uv)"; \
	$(UV) venv --quiet --allow-existing --python "$$py310" $(RASA_VENV)
	$(UV) pip sync --quiet --require-hashes --python $(RASA_VENV)/bin/python requirements-rasa.lock
	@touch $@

# Regenerate both lock files (with hashes) after changing pyproject.toml or requirements-rasa.txt.
# Pins already in a lock file are kept unless they must move; add --upgrade to move them all.
lock: | $(UV)
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	  --no-emit-package puente -o requirements.lock
	$(UV) pip compile requirements-rasa.txt --generate-hashes --python-version 3.10 -o requirements-rasa.lock

env: $(VENV)/.installed
	@$(BIN)/puente env init

# --- translations -------------------------------------------------------------
# messages.pot and the .mo files are build outputs; the .po files are the source.
# A changed English text keeps its old translations, marked fuzzy (and obsolete ones
# stay as #~ comments): nothing translated is ever dropped, and `make test` names
# each fuzzy or missing entry until someone retranslates it.
LOCALES ?= locales
# Two domains: `messages` (what people receive: every language in locales/) from babel.cfg, and
# `dashboard` (the coordinators' interface: en and es) from babel-dashboard.cfg.
i18n: $(VENV)/.installed
	@$(BIN)/pybabel -q extract -F babel.cfg -k _ -k N_ --no-location --omit-header -o $(LOCALES)/messages.pot .
	@grep -q '^msgid "' $(LOCALES)/messages.pot || { echo "i18n: extracted no messages: check babel.cfg (refusing to empty the catalogs)" >&2; exit 1; }
	@$(BIN)/pybabel -q extract -F babel-dashboard.cfg -k _ -k N_ -k ngettext:1,2 --no-location --omit-header -o $(LOCALES)/dashboard.pot .
	@grep -q '^msgid "' $(LOCALES)/dashboard.pot || { echo "i18n: extracted no dashboard texts: check babel-dashboard.cfg (refusing to empty the catalogs)" >&2; exit 1; }
	@$(MAKE) i18n-merge
	@echo "i18n: catalogs extracted, updated and compiled for $$(ls $(LOCALES)/*/language.yml | wc -l) languages (messages) and $$(ls $(LOCALES)/*/LC_MESSAGES/dashboard.po | wc -l) (dashboard)"

i18n-merge: $(VENV)/.installed
	@for domain in messages dashboard; do \
	  if [ -f $(LOCALES)/$$domain.pot ]; then \
	    $(BIN)/pybabel -q update -i $(LOCALES)/$$domain.pot -d $(LOCALES) -D $$domain --ignore-pot-creation-date; fi; \
	  $(BIN)/pybabel -q compile -d $(LOCALES) -D $$domain; \
	  $(BIN)/pybabel compile -d $(LOCALES) -D $$domain --statistics 2>&1 \
	    | { grep ' translated in ' | grep -v '(100%)' | sed 's/^/i18n: needs translation: /' || true; }; \
	done

# --- database -----------------------------------------------------------------
migrate: env
	@$(BIN)/puente db upgrade

# --- the Rasa model -----------------------------------------------------------
train: $(MODEL)

$(MODEL): $(BOT_FILES) | $(RASA_VENV)/.installed
	@echo "train: bot/ or nlu_data/ changed (or no model yet): training $(MODEL), about three minutes"
	@start=$$(date +%s); \
	$(RASA_ENV) $(RASA) train --config bot/config.yml --domain bot/domain --data nlu_data \
	  --out models --fixed-model-name puente; \
	echo "train: done in $$(( $$(date +%s) - start )) s"
	@touch $@

# --- the two commands ---------------------------------------------------------
# Development: the sample directory loads into an empty database (PUENTE_ENV=production to skip).
run: setup
	@PUENTE_ENV=$${PUENTE_ENV:-development} $(BIN)/puente run

test: browser-check setup lint types pytest rasa-validate rasa-test
	@echo "make test: all checks passed"

# The browser tests drive Debian's Chromium (never a browser Playwright downloads): without it
# `make test` fails at once, in one line, rather than skip them.
CHROMIUM ?= /usr/bin/chromium
browser-check:
	@[ -x $(CHROMIUM) ] || { echo "make test: browser tests need Debian's Chromium: apt-get install chromium" >&2; exit 1; }

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	@# Scripts without an extension are only checked when named.
	$(BIN)/ruff check bench/fanout bench/burst

types: $(VENV)/.installed
	$(BIN)/mypy
	@# A second script without an extension would be a second "__main__" in the run above.
	$(BIN)/mypy bench/import
	$(BIN)/mypy bench/fanout
	$(BIN)/mypy bench/burst

pytest: setup
	$(BIN)/pytest

rasa-validate: $(RASA_VENV)/.installed
	$(RASA_ENV) $(RASA) data validate --domain bot/domain --data nlu_data --config bot/config.yml --fail-on-warnings --quiet

rasa-test: $(MODEL)
	@rm -rf var/rasa-test
	$(RASA_ENV) $(RASA) test core --model $(MODEL) --stories tests/rasa \
	  --fail-on-prediction-errors --no-plot --out var/rasa-test

bench: setup
	$(BIN)/python bench/latency

# No Rasa, no model: the venv, the catalogs (messages are written in each reader's language),
# PostgreSQL and Redis for the second backend (as for the tests).
bench-fanout: i18n
	$(BIN)/python bench/fanout

bench-burst: i18n
	$(BIN)/python bench/burst

# Intent accuracy and macro F1 per language, and language identification, on the frozen held-out set.
nlu-report: setup
	$(BIN)/python bench/nlu_report.py

clean:
	rm -rf var/rasa-test .pytest_cache .mypy_cache .ruff_cache test-artifacts
