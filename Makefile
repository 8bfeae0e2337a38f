# fillstream: `make run` and `make test` do all the set-up a fresh machine needs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR := $(or $(FILLSTREAM_HOME),.fillstream)
KAFKA_LIBS := $(HOME_DIR)/kafka/libs
PACKAGES := core schemas domain bridge streams projections alerts api control deploy fillstream
PYTEST_ARGS ?=
WEB := web
WEB_SOURCES := $(shell find $(WEB)/src -type f -not -path '*/generated/*') \
	$(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json

.PHONY: help setup system-packages run test web-test down bench lint docs screenshots ninjascript \
	clean distclean

help:
	@echo "make setup | run | test | down | bench | lint | docs | ninjascript | clean | distclean"

setup: system-packages $(VENV)/.installed $(KAFKA_LIBS)/.resolved $(WEB)/dist/index.html

# Java 17 and Maven run Kafka; Node.js and npm build the dashboard (web/); Debian's Chromium
# runs its browser tests; PostgreSQL's server binaries run the database; Mono compiles and
# runs the NinjaTrader AddOn (bridge/ninjatrader) in the tests; Prometheus (and its promtool)
# scrapes the processes and checks the metrics and alerting rules in the tests; Alertmanager's
# amtool and docker-compose (no Docker engine: it checks the compose file offline) check the
# deployment files under deploy/ in the tests, and systemd-analyze the units. WeasyPrint draws
# the reports' PDF with Pango; poppler's pdftoppm and pdftotext check it in the tests.
system-packages:
	@missing=(); lean=(); \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv); \
	command -v java >/dev/null || missing+=(openjdk-17-jre-headless); \
	command -v mvn >/dev/null || missing+=(maven); \
	command -v npm >/dev/null || missing+=(nodejs npm); \
	command -v chromium >/dev/null || missing+=(chromium); \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql); \
	command -v mcs >/dev/null || missing+=(mono-mcs); \
	command -v mono >/dev/null || missing+=(mono-runtime); \
	ls /usr/lib/mono/4.5/System.Net.Http.dll >/dev/null 2>&1 || missing+=(libmono-system-net-http4.0-cil); \
	{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing+=(prometheus); \
	command -v amtool >/dev/null || missing+=(prometheus-alertmanager); \
	command -v systemd-analyze >/dev/null || missing+=(systemd); \
	command -v docker-compose >/dev/null || lean+=(docker-compose); \
	ls /usr/lib/*/libpangoft2-1.0.so.0 >/dev/null 2>&1 || missing+=(libpango-1.0-0 libpangoft2-1.0-0); \
	command -v pdftoppm >/dev/null || missing+=(poppler-utils); \
	if [ $$(( $${#missing[@]} + $${#lean[@]} )) -eq 0 ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then \
		echo "make setup: installing $${missing[*]} $${lean[*]} with apt-get"; \
		apt-get update -q; \
		if [ $${#missing[@]} -gt 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$${missing[@]}"; fi; \
		if [ $${#lean[@]} -gt 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
				"$${lean[@]}"; fi; \
	else \
		echo "make setup: missing system packages; as root run:" \
			"apt-get install -y $${missing[*]} $${lean[*]}" >&2; \
		exit 1; \
	fi

$(BIN)/python: | system-packages
	$(PYTHON) -m venv $(VENV)

# re-installed only when pyproject.toml changes
$(VENV)/.installed: pyproject.toml | system-packages $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# the pinned broker and its runtime dependencies, re-resolved when the pom changes
$(KAFKA_LIBS)/.resolved: deploy/kafka/pom.xml | system-packages
	rm -rf $(KAFKA_LIBS)
	mkdir -p $(KAFKA_LIBS)
	mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies \
		-DoutputDirectory=$(abspath $(KAFKA_LIBS)) -DincludeScope=runtime
	touch $@

# the dashboard's packages, exactly as the lockfile pins them, re-installed when it changes
$(WEB)/node_modules/.installed: $(WEB)/package-lock.json | system-packages
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# the dashboard, typed by the read API's OpenAPI document (generated here, so they cannot drift)
$(WEB)/dist/index.html: $(WEB)/node_modules/.installed $(WEB_SOURCES) $(wildcard api/*.py) \
		$(VENV)/.installed
	$(BIN)/python -m api.openapi > $(WEB)/openapi.json
	cd $(WEB) && npm run --silent build

# the local stack evaluates the example alert rules unless FILLSTREAM_ALERT_RULES names others
run: setup
	FILLSTREAM_ALERT_RULES=$${FILLSTREAM_ALERT_RULES:-deploy/alerts/alerts.toml} $(BIN)/fillstream up
	$(BIN)/fillstream demo
	@$(BIN)/fillstream dashboard

# the suite includes the static checks: ruff, mypy --strict and the layers (import-linter),
# and the documentation's strict build
test: lint docs web-test
	$(BIN)/pytest $(PYTEST_ARGS)

# the dashboard's component tests (Vitest)
web-test: setup
	cd $(WEB) && npx vitest run

down:
	@if [ -x $(BIN)/fillstream ]; then $(BIN)/fillstream down; else echo "nothing to stop (no $(VENV))"; fi

# BENCH names some modules only (make bench BENCH="experiments rebuild"); all by default. Each
# benchmark's result is merged into docs/benchmarks/report.json, whose page the docs generate
bench: setup
	$(BIN)/python -m bench $(BENCH)

# the README's pictures of the dashboard, from the running local stack (make run first)
screenshots: setup
	$(BIN)/python -m docs.screenshots

# the documentation site (mkdocs.yml), strictly: a broken link or anchor fails the build
docs: $(VENV)/.installed
	$(BIN)/mkdocs build --strict --site-dir $(abspath $(HOME_DIR))/site

# the archive NinjaTrader 8 installs with Tools > Import > NinjaScript Add-On: the AddOn's sources,
# the sample strategy and the references they need (docs/guides/ninjatrader-install.md)
ninjascript: $(VENV)/.installed
	$(BIN)/python -m deploy.ninjascript $(HOME_DIR)/dist

lint: setup
	$(BIN)/ruff check $(PACKAGES) tests bench docs
	$(BIN)/ruff format --check $(PACKAGES) tests bench docs
	$(BIN)/mypy $(PACKAGES) tests bench docs/hooks.py
	$(BIN)/lint-imports --no-cache

clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info deploy/kafka/target \
		$(WEB)/dist $(WEB)/openapi.json $(WEB)/src/generated

# also stops the stack and deletes the virtualenv and all local data (Kafka, PostgreSQL, logs)
distclean: down clean
	rm -rf $(VENV) $(HOME_DIR) $(WEB)/node_modules
