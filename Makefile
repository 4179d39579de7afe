# The front door. Every target creates the virtual environment on first use.
PYTHON_SYSTEM ?= python3
VENV          := .venv
PY            := $(VENV)/bin/python
STAMP         := $(VENV)/.installed
JOBS          ?= 2

FORMAT ?= tfx:8,3,0

.PHONY: help deps test sim table bench clean

help:
	@echo "make test                   install everything, run the whole test suite"
	@echo "make sim                    hardware verification only (cocotb + Amaranth simulator)"
	@echo "make table FORMAT=tfx:8,3,0 print a format's code table (golden model CLI)"
	@echo "make bench                  quantizer throughput benchmark (TFX vs FXP)"
	@echo "make clean                  remove build products (keeps .venv)"

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

deps: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests

sim: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests -m sim

table: $(STAMP)
	$(PY) -m golden table $(FORMAT)

bench: $(STAMP)
	$(PY) -m scripts.bench_quantize

clean:
	rm -rf build .pytest_cache .hypothesis
