"""End to end: trained ConvNets through the simulated accelerator (cocotb, Icarus).

Every convolution and dense layer of the network runs through the array for real test images;
the testbench (:mod:`sim.tb_e2e`) checks every layer's codes and the predictions against the
golden integer engine and reports cycles. Runs TFX (TENT formats) and fixed point (per-layer
F) on a 4x4 array, for the digits ConvNet and the Fashion-MNIST ConvNet. Writes
``build/e2e/e2e.json`` and ``e2e.md``. The designs are :data:`scripts.designs.FPGA` (integer
form, shared scaling stage, as on the FPGA). Entry point: :mod:`scripts.e2e`.
"""

import json
from pathlib import Path

import numpy as np

from golden.arith import ScalingLimits
from golden.datasets import load
from golden.models import model_path
from golden.network import fold, load_network
from golden.ptq import quantize_network, scheme_family
from golden.quantized_io import load_quantized, save_quantized
from hdl.accelerator import Accelerator
from hdl.network_runner import check_runnable, largest_K
from scripts.designs import FPGA
from scripts.records import markdown_table, write_report
from sim.array_driver import accelerator_params
from sim.runner import export_verilog, run_cocotb
from sim.toolchain import BUILD

__all__ = ["run_network", "run_quantized", "check_block_rows", "largest_K", "run_e2e",
           "markdown"]

OUT = BUILD / "e2e"
N = 8


def check_block_rows(qnet, rows):
    """A ``ValueError`` unless an array of ``rows`` rows can run ``qnet``'s block-scaled
    weights (every K-tile inside one block)."""
    if qnet.mx_block is not None and qnet.mx_block % rows:
        raise ValueError(f"{qnet.scheme}'s blocks of {qnet.mx_block} weights need an array "
                         f"whose rows divide {qnet.mx_block}, not {rows}")


def run_quantized(qnet_path, data_path, *, model=None, dataset=None, form="int", rows=4,
                  cols=4, report=None):
    """Run a saved quantized network (:mod:`golden.quantized_io`) on the images of
    ``data_path`` (an ``.npz`` with ``x``, preprocessed, and optionally ``y``) through a
    simulated accelerator of its family (shared scaling stage); returns the runner's result.
    ``model`` and ``dataset`` name the run in the report."""
    qnet = load_quantized(qnet_path)
    family = qnet.hardware_family
    check_runnable(qnet, family)
    check_block_rows(qnet, rows)
    array = Accelerator(family=family, form=form, rows=rows,
                        cols=cols, max_K=largest_K(qnet.network), depth=64, limits=qnet.limits,
                        scaling="shared", mx_block=qnet.mx_block,
                        mx_spread=max(1, qnet.block_spread))
    return run_cocotb(verilog_text=export_verilog(array, "accelerator"), toplevel="accelerator",
                      test_module="sim.tb_e2e",
                      # the bench runs in its own directory: absolute paths
                      params={**accelerator_params(array),
                              "qnet": str(Path(qnet_path).resolve()),
                              "data": str(Path(data_path).resolve()),
                              "model": str(model or qnet_path),
                              "dataset": str(dataset or data_path),
                              "report": str(Path(report).resolve()) if report else None})


def run_network(family, scheme, model, dataset, images, *, form="int", rows=4, cols=4,
                report=None, work=OUT):
    """Quantize a trained network file (``scheme`` at the family's width, calibration split)
    and run its first ``images`` test images through the array (:func:`run_quantized`); the
    quantized network and the images are written to ``work``."""
    scheme_family(scheme, family.n, family)  # a clear error if the scheme cannot pick from it
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(model).stem}-{scheme}-{family.n}"
    q = quantize_network(fold(load_network(model)), scheme, family.n,
                         load(dataset, "calibration")[0], family=family, limits=ScalingLimits())
    save_quantized(work / f"{stem}.qnet.npz", q)
    x, y = load(dataset, "test")
    np.savez(work / f"{stem}.data.npz", x=x[:images], y=y[:images])
    return run_quantized(work / f"{stem}.qnet.npz", work / f"{stem}.data.npz", model=model,
                         dataset=dataset, form=form, rows=rows, cols=cols, report=report)


def markdown(reports):
    lines = ["# End to end through the simulated array", "",
             "Made by `python -m scripts.e2e` (`make e2e`): every conv and dense layer through "
             "the accelerator in Icarus (cocotb), 4x4 array, int form, shared scaling stage; "
             "every layer's codes and every prediction equal to the golden integer engine "
             "(the testbench fails otherwise). Cycles from the first transfer to the last "
             "result of each layer, summed.", ""]
    lines += markdown_table(
        ["model", "scheme", "formats", "images", "accuracy", "cycles / image", "MACs / image",
         "utilisation"],
        [(Path(r["model"]).stem, r["scheme"], r["family"], r["images"],
          f"{100 * r['accuracy']:.1f} %", f"{r['cycles_per_image']:,.0f}",
          f"{r['macs_per_image']:,.0f}", f"{100 * r['utilisation']:.1f} %") for r in reports])
    return "\n".join(lines) + "\n"


def run_e2e(*, datasets=("digits", "fashion-mnist"), images=20, seed=0):
    """Every dataset's ConvNet (training seed ``seed``) on ``images`` test images, each FPGA
    design; writes the reports to ``build/e2e/`` and returns them. A missing model is a
    ``FileNotFoundError``, a disagreement with the golden engine a ``RuntimeError``."""
    if images < 1:
        raise ValueError(f"images must be at least 1, not {images}")
    OUT.mkdir(parents=True, exist_ok=True)
    reports = []
    for dataset in datasets:
        model = model_path(dataset, "convnet", seed)
        if not model.exists():
            raise FileNotFoundError(f"{model} does not exist (make train-models)")
        for design in FPGA:
            path = OUT / f"{dataset}-{design.scheme}.json"
            print(f"{dataset} ConvNet, {design.scheme}, {images} images ...", flush=True)
            result = run_network(design.family(N), design.scheme, model, dataset, images,
                                 form=design.form, report=path)
            if not result.passed:
                raise RuntimeError(f"the array disagreed with the golden engine: {result}")
            reports.append(json.loads(path.read_text()))
    write_report(OUT, "e2e", {"runs": reports}, markdown(reports))
    return reports
