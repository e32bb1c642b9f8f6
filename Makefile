# Quick start: `make demo` runs the TPC-H ELT pipeline end to end; `make test` runs the suite.
# Needs only Python 3.11+ on PATH (override with PY=python3.12).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SF ?= 0.01
WRITE_DISPOSITION ?= merge
STATE := $(CURDIR)/.orchestra_local

export TPCH_SOURCE_URL ?= sqlite:///$(STATE)/tpch_source.sqlite
export WAREHOUSE_DUCKDB_PATH ?= $(STATE)/warehouse.duckdb

.PHONY: demo test venv clean

venv: $(VENV)/.installed

# Re-installs only when a requirements file or pyproject.toml changes.
$(VENV)/.installed: requirements.txt python/requirements.txt pyproject.toml python/pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s); run make PY=python3.11" % sys.version.split()[0])'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e . -e python
	@touch $@

demo: venv
	cd python && ../$(BIN)/python -m tpch_source --scale-factor $(SF)
	$(BIN)/orchestra-local run orchestra/tpch_elt.yml --input write_disposition=$(WRITE_DISPOSITION)
	@$(BIN)/python analytics/warehouse_summary.py

test: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile

clean:
	rm -rf $(STATE) dbt/target dbt/logs
