"""End to end: trained ConvNets through the simulated accelerator (cocotb, Icarus).

Every convolution and dense layer of the network runs through the array for real test images;
the testbench (:mod:`sim.tb_e2e`) checks every layer's codes and the predictions against the
golden integer engine and reports cycles. Runs TFX (TENT formats) and fixed point (per-layer
F) on a 4x4 array, for the digits ConvNet and the Fashion-MNIST ConvNet. Writes
``build/e2e/e2e.json`` and ``e2e.md``.

    python -m scripts.e2e [--images 20] [--datasets digits fashion-mnist]
"""

import argparse
import json
import sys
from pathlib import Path

from golden.arith import ScalingLimits
from golden.family import FXPFamily, TFXFamily
from golden.network import load_network
from hdl.accelerator import Accelerator
from scripts.report import write_report
from scripts.train_models import model_path
from sim.array_driver import accelerator_params
from sim.runner import export_verilog, run_cocotb

__all__ = ["run_network", "largest_K", "main"]

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = (("tfx", TFXFamily(8, 3)), ("fxp-layer", FXPFamily(8)))


def largest_K(network):
    """The longest dot product of a network's conv and dense layers (the array's max_K)."""
    return max(int(node["weight"][0].size) if node.op == "conv" else node["weight"].shape[0]
               for node in network.nodes if node.op in ("conv", "dense"))


def run_network(family, scheme, model, dataset, images, *, rows=4, cols=4, report=None):
    """Run the cocotb end-to-end test; returns the runner's result."""
    array = Accelerator(family=family, form="int", rows=rows, cols=cols,
                        max_K=largest_K(load_network(model)), depth=64, limits=ScalingLimits(),
                        scaling="shared")
    return run_cocotb(verilog_text=export_verilog(array, "accelerator"), toplevel="accelerator",
                      test_module="sim.tb_e2e",
                      params={**accelerator_params(array), "model": str(model),
                              "dataset": dataset, "images": images, "scheme": scheme,
                              "report": str(report) if report else None})


def markdown(reports):
    lines = ["# End to end through the simulated array", "",
             "Made by `python -m scripts.e2e` (`make e2e`): every conv and dense layer through "
             "the accelerator in Icarus (cocotb), 4x4 array, int form, shared scaling stage; "
             "every layer's codes and every prediction equal to the golden integer engine "
             "(the testbench fails otherwise). Cycles from the first transfer to the last "
             "result of each layer, summed.", "",
             "| model | scheme | formats | images | accuracy | cycles / image | MACs / image "
             "| utilisation |", "|---|---|---|---|---|---|---|---|"]
    for r in reports:
        lines.append(f"| {Path(r['model']).stem} | {r['scheme']} | {r['family']} | {r['images']} "
                     f"| {100 * r['accuracy']:.1f} % | {r['cycles_per_image']:,.0f} "
                     f"| {r['macs_per_image']:,.0f} | {100 * r['utilisation']:.1f} % |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.e2e",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion-mnist"])
    parser.add_argument("--seed", type=int, default=0, help="which trained model")
    args = parser.parse_args(argv)
    if args.images < 1:
        print(f"error: --images must be at least 1, not {args.images}", file=sys.stderr)
        return 2
    out = ROOT / "build" / "e2e"
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for dataset in args.datasets:
        model = model_path(dataset, "convnet", args.seed)
        if not model.exists():
            print(f"error: {model} does not exist (make train-models)", file=sys.stderr)
            return 2
        for scheme, family in VARIANTS:
            path = out / f"{dataset}-{scheme}.json"
            print(f"{dataset} ConvNet, {scheme}, {args.images} images ...", flush=True)
            result = run_network(family, scheme, model, dataset, args.images, report=path)
            if not result.passed:
                print(f"error: the array disagreed with the golden engine: {result}",
                      file=sys.stderr)
                return 1
            reports.append(json.loads(path.read_text()))
    text = markdown(reports)
    write_report(out, "e2e", reports, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
