"""``tent``: from a trained model to a quantized network, in one command line.

    tent import MODEL.onnx -o NET.npz
    tent quantize NET.npz --scheme SCHEME --n N [--family SPEC] [--calibration DATA]
                  [--limits default|board|wide] -o QNET.npz
    tent eval NET.npz|QNET.npz [--data DATA] [--engine float|integer|fake] [--images K]
              [--per-class] [--json]
    tent compare NET.npz [--data DATA] [--calibration DATA] [--widths 4 5 6 8]
                 [--formats KIND ...] [--schemes SCHEME ...] [--scheduler ADDRESS] [-o DIR]
    tent run QNET.npz [--data DATA] --images K [--rows R] [--cols C] [--json]
    tent report QNET.npz [--energy build/report/energy.json] [--json]
    tent compile QNET.npz -o NET.bin [--rows R] [--cols C] [--memory CODES] [--check K]
                 [--data DATA]
    tent deploy QNET.npz --port PORT [--baud B] [--data DATA] [--images K] [--resident]

``NET.npz`` is a float network (``golden.network`` file: ``tent import`` writes one, and the
project's study networks ``models/<dataset>-<convnet|resnet>-s<seed>.npz`` are such files; the
digits MLP ``models/digits_mlp.npz`` is a layer list of the golden model, not one);
``QNET.npz`` a quantized network with its formats and parameters (``golden.quantized_io``).
``DATA`` is a bundled dataset (``digits``, ``mnist``, ``fashion-mnist``, optionally ``:train``,
``:calibration`` or ``:test``) or a ``.npy`` / ``.npz`` file of images (and labels); see
:mod:`scripts.nn.userdata`. Errors are one line on standard error and exit status 1.
"""

import argparse
import json
import os
import shutil
import tempfile
from collections import Counter
import sys
import time
from pathlib import Path

import numpy as np

from golden._checks import check_int
from golden.arith import MAX_BIAS_BITS, ScalingLimits
from golden.family import FORMAT_KINDS, parse_family
from golden.layers import BiasRangeError
from golden._io import discard_stdout, read_npz
from golden.network import fold, network_from_arrays, save_network
from golden.onnx_import import import_onnx, preprocess
from golden.compiler import compile_network
from golden.interpreter import Machine
from golden.program import UP5K_MEMORY_CODES, read_program
from golden.ptq import (FULL_MX_SCHEMES, MX_SPREAD, SCHEMES, calibration_samples,
                        quantize_network)
from golden.quantized_io import (is_quantized_file, load_quantized, quantized_from_arrays,
                                 save_quantized)
from hdl.client import DeviceError, HostClient, LinkError, SerialTransport
from hdl.network_runner import check_runnable, largest_K
from hdl.protocol import BAUD_RANGE, DEFAULT_BAUD, ProtocolError
from scripts.designs import key_order
from scripts.fpga.flow import SynthConfig
from scripts.nn.userdata import calibration_warnings, load_data
from sim.toolchain import BUILD

RUNS = BUILD / "tent" / "run"  # tent run's work folders, unless TENT_WORK names another
ENERGY_RECORD = BUILD / "report" / "energy.json"

__all__ = ["main"]

_USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, IsADirectoryError,
                NotADirectoryError, TypeError, RuntimeError, TimeoutError, ConnectionError,
                DeviceError, LinkError, ProtocolError)


# "default": the scheme's family's (golden.family.Family.default_limits); "wide": the widest
# registers the golden model and the simulated array take (for n up to 16).
LIMITS = {"default": None, "board": SynthConfig().limits,
          "wide": ScalingLimits(bias_bits=MAX_BIAS_BITS, m_bits=32, shift_max=63)}


#: The schemes an accelerator runs: every one but full MX (golden model only).
HARDWARE_SCHEMES = tuple(s for s in SCHEMES if s not in FULL_MX_SCHEMES)

def _parser():
    parser = argparse.ArgumentParser(prog="tent", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("import", help="an ONNX model as a float network file")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", required=True, help="the network file to write (.npz)")

    p = commands.add_parser("quantize", help="a float network quantized to one scheme and width")
    p.add_argument("network", help="a float network file (.npz)")
    p.add_argument("--scheme", required=True, choices=HARDWARE_SCHEMES,
                   help="a scheme the accelerator runs (the full-MX ones run in tent compare "
                        "and make accuracy only)")
    p.add_argument("--n", type=int, required=True, help="width in bits, 3 to 16")
    p.add_argument("--family", default=None,
                   help="another family of the scheme's kind and width for a searched scheme, "
                        "e.g. posit:8,0 or fp:8,5 (default: the project's, posit es = 1, "
                        "the OCP minifloat of the width)")
    p.add_argument("--calibration", default=None,
                   help="DATA the formats are chosen on (default: the dataset the network "
                        "was trained on, calibration split, when it is a bundled one)")
    p.add_argument("--no-bias-correction", action="store_true")
    p.add_argument("--mx-spread", type=int, default=MX_SPREAD,
                   help=f"the -mx schemes: the largest difference of a layer's block "
                        f"exponents, 1 to {MX_SPREAD} (default {MX_SPREAD}; a board built "
                        f"with make synth MX_SPREAD= holds no more)")
    p.add_argument("--limits", choices=LIMITS, default="default",
                   help="the scaling stage's registers: default (the family's: 32-bit bias "
                        "for TFX and FXP, 16-bit M, shift <= 31: tent run's array and the "
                        "energy study), board (24-bit bias, 8-bit M, shift <= 15: what make "
                        "synth builds, for tent deploy) or wide (128-bit bias, 32-bit M, shift "
                        "<= 63: for widths up to 16)")
    p.add_argument("-o", "--output", required=True, help="the quantized file to write (.npz)")

    p = commands.add_parser("eval", help="accuracy of a float or quantized network")
    p.add_argument("network", help="a float or quantized network file (.npz)")
    p.add_argument("--data", default=None,
                   help="DATA (default: the network's own dataset, test split)")
    p.add_argument("--engine", choices=("float", "integer", "fake"), default=None,
                   help="default: integer for a quantized network, float for a float one")
    p.add_argument("--images", type=int, default=0, help="the first K images (0: all)")
    p.add_argument("--per-class", action="store_true", help="also each class's accuracy")
    p.add_argument("--json", action="store_true", help="print the record as JSON")

    p = commands.add_parser("compare", help="every format, scheme and width on a float "
                                            "network: accuracy, energy, the answer table")
    p.add_argument("network", help="a float network file (.npz)")
    p.add_argument("--data", default=None,
                   help="labelled DATA to evaluate on (default: the network's own dataset, "
                        "test split)")
    p.add_argument("--calibration", default=None,
                   help="DATA the formats are chosen on (default: the network's own dataset, "
                        "calibration split)")
    p.add_argument("--widths", type=int, nargs="+", default=[4, 5, 6, 8],
                   help="widths in bits, 3 to 16 (default: 4 5 6 8)")
    p.add_argument("--formats", nargs="+", choices=FORMAT_KINDS, default=list(FORMAT_KINDS),
                   help="format kinds (default: all)")
    p.add_argument("--schemes", nargs="+", choices=SCHEMES, default=list(HARDWARE_SCHEMES),
                   help="schemes (default: all of the kinds chosen that the accelerator runs; "
                        "the full-MX ones give accuracy only, unpriced)")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the other exponent sizes (posit es = 0, FP6 E3M2, FP8 E5M2)")
    p.add_argument("--images", type=int, default=0, help="the first K test images (0: all)")
    p.add_argument("--no-bias-correction", action="store_true")
    p.add_argument("--energy", help="the energy record of make report (default: "
                                     "build/report/energy.json of this checkout, if made)")
    p.add_argument("--jobs", type=int, default=2, help="local processes (default 2)")
    p.add_argument("--scheduler", default=None,
                   help="a Dask scheduler's address (tcp://host:8786): run on its workers")
    p.add_argument("-o", "--output", default=None,
                   help="the directory to write compare.json, compare.md and pareto.png to "
                        "(default: NETWORK-compare beside the current directory's files)")

    p = commands.add_parser("run", help="a quantized network through the simulated "
                                        "accelerator, every layer checked bit-exact")
    p.add_argument("network", help="a quantized network file (.npz)")
    p.add_argument("--data", default=None,
                   help="DATA (default: the network's own dataset, test split)")
    p.add_argument("--images", type=int, required=True, help="how many images (1 to 10000)")
    p.add_argument("--rows", type=int, default=4, help="array rows (default 4)")
    p.add_argument("--cols", type=int, default=4, help="array columns (default 4)")
    p.add_argument("--json", action="store_true", help="print the record as JSON")

    p = commands.add_parser("report", help="MACs, memory traffic and energy per inference")
    p.add_argument("network", help="a quantized network file (.npz)")
    p.add_argument("--energy", help="the energy record of make report (default: "
                                     "build/report/energy.json of this checkout, if made)")
    p.add_argument("--json", action="store_true", help="print the record as JSON")

    p = commands.add_parser("compile", help="a quantized network as a standalone program for "
                                            "the board: instructions, weights, parameters")
    p.add_argument("network", help="a quantized network file (.npz)")
    p.add_argument("-o", "--output", required=True, help="the program image to write (.bin)")
    p.add_argument("--rows", type=int, default=4, help="the array's rows (default 4)")
    p.add_argument("--cols", type=int, default=4, help="the array's columns (default 4)")
    p.add_argument("--memory", type=int, default=UP5K_MEMORY_CODES,
                   help="codes of memory for weights and activations (default "
                        "%(default)s: the iCE40 UP5K's four SPRAMs, one code per byte)")
    p.add_argument("--check", type=int, default=8,
                   help="run the program's interpreter on the first K images of DATA and "
                        "check its logits against the integer engine (0: skip; default 8)")
    p.add_argument("--data", default=None,
                   help="DATA for --check (default: the network's own dataset, test split)")

    p = commands.add_parser("deploy", help="a quantized network through the host link of a "
                                           "board, every layer checked bit-exact")
    p.add_argument("network", help="a quantized network file (.npz)")
    p.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB1")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                   help="the build's UART rate (make synth BAUD=, default %(default)s)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per reply")
    p.add_argument("--retries", type=int, default=3, help="retries after a loss on the line")
    p.add_argument("--data", default=None,
                   help="DATA (default: the network's own dataset, test split)")
    p.add_argument("--images", type=int, default=16, help="how many images (default 16)")
    p.add_argument("--resident", action="store_true",
                   help="the board runs the resident build (make synth MODE=resident): the "
                        "network is compiled for it (tent compile), loaded once, and each "
                        "image is classified on the board")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        {"import": _import, "quantize": _quantize, "eval": _eval, "compare": _compare,
         "run": _run, "report": _report, "compile": _compile,
         "deploy": _deploy}[args.command](args)
    except BrokenPipeError:  # a ConnectionError too: the reader went away (| head), quietly
        discard_stdout()
    except _USER_ERRORS as error:
        print(f"tent {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0


def _progress(total, what):
    """A progress bar of ``total`` images on standard error (only on a terminal)."""
    from tqdm import tqdm
    return tqdm(total=total, desc=what, unit="image", disable=None, leave=False,
                file=sys.stderr)


def _in_batches(predict, x, what, batch=1000):
    """``predict(x)`` a batch at a time, with a progress bar: memory bounded by the batch."""
    parts = []
    with _progress(len(x), what) as bar:
        for start in range(0, len(x), batch):
            parts.append(predict(x[start:start + batch]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def _warner(args):
    """A function printing one warning line of this command to standard error."""
    return lambda line: print(f"tent {args.command}: warning: {line}", file=sys.stderr)


def _warn_saturation(args, qnet, x, spec, *, share=0.01):
    """Warn when more than ``share`` of the (preprocessed) input values lie beyond twice the
    input format's largest magnitude: the data are far outside what the network was
    calibrated on (the search may saturate a few values on purpose, not these)."""
    fmt = qnet.format_of("input")
    beyond = float(np.mean(np.abs(x) > 2 * fmt.maxpos))
    if beyond > share:
        _warner(args)(f"{spec}: {100 * beyond:.1f} % of the input values lie beyond twice "
                      f"{fmt.maxpos:g}, the largest of the input format {fmt.label} chosen at "
                      f"calibration: they saturate (are the data on the calibration's scale?)")


def _count(number, noun):
    """``1 image``, ``2 images``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _npz_target(path, suffix=".npz"):
    """The output path, checked before any work: a new or existing ``suffix`` file in a
    directory that exists and can be written."""
    path = Path(path)
    if path.suffix != suffix:
        raise ValueError(f"the output {path} must end in {suffix}")
    if path.is_dir():
        raise ValueError(f"the output {path} is a directory: give a file name ending in "
                         f"{suffix}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the output's directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PermissionError(f"the output {path} cannot be written (permission denied)")
    return path


def _import(args):
    output = _npz_target(args.output)
    network = import_onnx(args.model)
    save_network(output, network)
    ops = Counter(node.op for node in network.nodes)
    print(f"wrote {output}: {len(network.nodes)} layers ("
          + ", ".join(f"{count} {op}" for op, count in ops.items())
          + f"), input {network.input_shape}"
          + (", with an input normalisation (applied on the host)"
             if "preprocess" in network.info else ""))


def _load_any(path):
    contents = read_npz(path, "network")
    if is_quantized_file(contents):
        return quantized_from_arrays(contents, path)
    return network_from_arrays(contents, path)


def _default_data(network, split, option):
    dataset = network.info.get("dataset")
    if dataset is None:
        raise ValueError(f"the network does not say which dataset it was trained on: give "
                         f"{option} DATA")
    return f"{dataset}:{split}"


def _classes(network):
    return network.shapes[network.output][0]


def _quantize(args):
    output = _npz_target(args.output)
    check_int("--n", args.n, 3, 16)
    check_int("--mx-spread", args.mx_spread, 1, MX_SPREAD)
    family = None if args.family is None else parse_family(args.family)
    network = fold(_float_network(args.network))
    spec, x = _calibration(args, network)
    samples = _samples(network, x)
    try:
        qnet = quantize_network(network, args.scheme, args.n, samples=samples, family=family,
                                bias_correction=not args.no_bias_correction,
                                limits=LIMITS[args.limits], mx_spread=args.mx_spread)
    except BiasRangeError as error:
        remedy = (f"quantize with --limits wide ({MAX_BIAS_BITS}-bit bias) or a smaller --n"
                  if error.bits <= MAX_BIAS_BITS and args.limits != "wide" else
                  f"that is beyond the {MAX_BIAS_BITS} bits any build takes: choose a smaller "
                  f"--n, or a --family with a narrower range")
        raise ValueError(f"{error}: {remedy}; and check that the calibration images are on the "
                         f"network's scale") from None
    save_quantized(output, qnet)
    formats = qnet.formats()
    print(f"wrote {output}: {args.scheme} at n = {args.n} ({qnet.family.label}), calibrated on "
          f"{spec} ({_count(len(x), 'image')}); formats: "
          + ", ".join(f"{k} {v}" for k, v in formats.items()))


def _calibration(args, network):
    """The calibration DATA's spec and its preprocessed images (warned about)."""
    spec = args.calibration or _default_data(network, "calibration", "--calibration")
    warn = _warner(args)
    x, _ = load_data(spec, network, split="calibration", warn=warn)
    x = preprocess(network, x)
    for line in calibration_warnings(x, network, spec):
        warn(line)
    return spec, x


def _samples(network, x):
    """The calibration images' samples for the format search
    (:func:`golden.ptq.calibration_samples`), with a progress bar."""
    with _progress(len(x), "calibration") as bar:
        return calibration_samples(network, x, progress=bar.update)


def _output_directory(path):
    """An output directory, made if missing (its parent must exist), checked before any work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"the output {path} is a file, not a directory")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the output's parent directory {path.parent} does not exist")
    path.mkdir(exist_ok=True)
    if not os.access(path, os.W_OK):
        raise PermissionError(f"the output directory {path} cannot be written")
    return path


def _compare(args):
    from tqdm import tqdm

    from scripts.executor import check_scheduler
    from scripts.nn import compare
    from scripts.records import write_report

    for n in args.widths:
        check_int("--widths", n, 3, 16)
    if len(set(args.widths)) != len(args.widths):
        raise ValueError(f"--widths repeats a width: {' '.join(map(str, args.widths))}")
    check_int("--images", args.images, 0, 1 << 24)
    check_int("--jobs", args.jobs, 1, 256)
    if args.scheduler is not None:
        check_scheduler(args.scheduler)
    runs = compare.compare_runs(sorted(args.widths), args.formats, args.schemes,
                                not args.no_variants)
    if not runs:
        raise ValueError(f"no scheme of --schemes {' '.join(args.schemes)} is of --formats "
                         f"{' '.join(args.formats)}")
    network = fold(_float_network(args.network))
    out = _output_directory(args.output or f"{Path(args.network).stem}-compare")
    energy_path, energy = _energy_record(args.energy)
    spec = args.data or _default_data(network, "test", "--data")
    x, y = load_data(spec, network, split="test", classes=_classes(network),
                     warn=_warner(args))
    if y is None:
        raise ValueError(f"{spec} has no labels: tent compare needs labelled images (an .npz "
                         f"with x and y)")
    if args.images:
        if args.images > len(x):
            raise ValueError(f"--images {args.images} is more than the {len(x)} images of "
                             f"{spec}")
        x, y = x[:args.images], y[:args.images]
    x = preprocess(network, x)
    calibration, calibration_x = _calibration(args, network)
    key = compare.cache_key(args.network, x, y, calibration_x, not args.no_bias_correction)
    cache = Path(os.environ.get("TENT_WORK") or BUILD / "tent") / "compare-cache" / f"{key}.json"
    with tqdm(total=len(runs), desc="compare", unit="run", disable=None,
              file=sys.stderr) as bar:
        def progress(line):
            bar.update(1)
            if line and not bar.disable:  # each run's line on a terminal, beside the bar
                bar.write(f"  {line}", file=sys.stderr)

        results, float_accuracy = compare.run_compare(
            network, x, y, lambda: _samples(network, calibration_x), runs, cache=cache, key=key,
            bias_correction=not args.no_bias_correction, jobs=args.jobs,
            scheduler=args.scheduler, progress=progress)
    record = compare.build_record(args.network, spec, calibration, len(x), runs, results,
                                  float_accuracy, energy, _shown(energy_path))
    _print_compare(record, energy_path)
    write_report(out, "compare", record, compare.markdown(record))
    compare.plot(record, out / "pareto.png")
    print(f"wrote {out / 'pareto.png'}")


def _shown(path):
    """``path`` relative to the current directory when it lies below it (records and tables
    then carry no machine's absolute paths), else as it is."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)


def _print_compare(record, energy_path):
    from scripts.designs import key_label

    print(f"{record['network']} on {record['data']}, {_count(record['images'], 'image')}: "
          f"{len(record['runs'])} runs; float network {100 * record['float_accuracy']:.2f} %")
    if record.get("answer"):  # each format's best scheme as the answer table chose it
        for row in record["answer"]:
            print(f"  n={row['n']} {key_label(row['priced_on'])}: {row['scheme']} "
                  f"{100 * row['accuracy']:.2f} %, {row['pj_per_mac']:.1f} pJ/MAC, "
                  f"{row['energy_nj'] / 1000:,.1f} µJ per inference"
                  + (" (priced on the plain design: its build was not measured)"
                     if row["plain_price"] else ""))
    else:  # no energy: each format's most accurate scheme
        best = {}
        for run in record["runs"]:
            key = (run["n"], run["format"])
            if key not in best or run["accuracy"] > best[key]["accuracy"]:
                best[key] = run
        for (n, design), run in sorted(best.items(), key=lambda item: (item[0][0],
                                                                       key_order(item[0][1]))):
            print(f"  n={n} {key_label(design)}: {run['label']} {100 * run['accuracy']:.2f} %")
    if record["energy"] is None:
        print(f"  energy: no energy record at {energy_path} (make report measures one)")
    else:
        front = ", ".join(f"{scheme} n={n}" for scheme, n in record["front"])
        print(f"  Pareto front (accuracy against energy per inference): {front}")


def _float_network(path):
    loaded = _load_any(path)
    if not hasattr(loaded, "nodes"):
        raise ValueError(f"{path} is already quantized; give the float network")
    return loaded


def _eval(args):
    check_int("--images", args.images, 0, 1 << 24)
    loaded = _load_any(args.network)
    quantized = not hasattr(loaded, "nodes")
    network = loaded.network if quantized else loaded
    engine = args.engine or ("integer" if quantized else "float")
    if engine != "float" and not quantized:
        raise ValueError(f"the {engine} engine needs a quantized network (tent quantize), "
                         f"and {args.network} is a float one")
    spec = args.data or _default_data(network, "test", "--data")
    x, y = load_data(spec, network, split="test", classes=_classes(network),
                     warn=_warner(args))
    if args.images:
        if args.images > len(x):
            raise ValueError(f"--images {args.images} is more than the {len(x)} images of "
                             f"{spec}")
        x, y = x[:args.images], None if y is None else y[:args.images]
    x = preprocess(network, x)
    if quantized:
        _warn_saturation(args, loaded, x, spec)
    predictions = _in_batches(network.predict if engine == "float"
                              else lambda part: loaded.predict(part, engine=engine),
                              x, f"{engine} engine")
    record = {"network": str(args.network), "data": spec, "images": len(x), "engine": engine}
    if quantized:
        record.update(scheme=loaded.scheme, n=loaded.n)
        if engine != "float":
            reference = _in_batches(network.predict, x, "float engine")
            record["agreement_with_float"] = float(np.mean(predictions == reference))
    if y is not None:
        record["accuracy"] = float(np.mean(predictions == y))
        if args.per_class:
            record["per_class"] = {str(c): float(np.mean(predictions[y == c] == c))
                                   for c in np.unique(y)}
    if args.json:
        print(json.dumps(record, indent=2))
        return
    what = f"{loaded.scheme} n={loaded.n}, " if quantized else ""
    line = f"{args.network} ({what}{engine} engine) on {spec}, {_count(len(x), 'image')}:"
    if "accuracy" in record:
        line += f" accuracy {100 * record['accuracy']:.2f} %"
    if "agreement_with_float" in record:
        line += f", agrees with the float model on {100 * record['agreement_with_float']:.2f} %"
    if y is None:
        line += " (no labels: predictions only)"
        if "agreement_with_float" not in record:
            counts = np.bincount(predictions, minlength=_classes(network))
            line += " class counts " + " ".join(map(str, counts))
    print(line)
    for c, accuracy in record.get("per_class", {}).items():
        print(f"  class {c}: {100 * accuracy:.2f} %")



def _images_for(args, network):
    """DATA (default: the network's test split), its first ``--images`` images preprocessed
    and their labels (or None)."""
    spec = args.data or _default_data(network, "test", "--data")
    x, y = load_data(spec, network, split="test", classes=_classes(network),
                     warn=_warner(args))
    if args.images > len(x):
        raise ValueError(f"--images {args.images} is more than the {len(x)} images of {spec}")
    return spec, preprocess(network, x[:args.images]), None if y is None else y[:args.images]


def run_folder(stem):
    """A new folder of its own for one ``tent run`` (its images and report), under
    ``$TENT_WORK`` or this checkout's ``build/tent/run``: runs of files with the same name, or
    at the same time, never share one. Removed after a run that passes."""
    root = Path(os.environ.get("TENT_WORK") or RUNS)
    try:
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=root))
    except OSError as error:
        raise ValueError(f"cannot make a work folder under {root} ({error.strerror}): set "
                         f"TENT_WORK to a directory that can be written") from None


def _run(args):
    from scripts.nn.e2e import check_block_rows, run_quantized

    check_int("--images", args.images, 1, 10000)
    check_int("--rows", args.rows, 1, 16)
    check_int("--cols", args.cols, 1, 16)
    qnet = load_quantized(args.network)
    check_block_rows(qnet, args.rows)
    network = qnet.network
    spec, x, y = _images_for(args, network)
    stem = Path(args.network).stem
    work = run_folder(stem)
    data, report = work / "images.npz", work / "report.json"
    np.savez(data, **({"x": x} if y is None else {"x": x, "y": y}))
    print(f"{_count(len(x), 'image')} of {spec} through a simulated {args.rows}x{args.cols} array "
          f"(Icarus; every layer checked against the integer engine) ...", file=sys.stderr,
          flush=True)
    result = run_quantized(args.network, data, model=stem, dataset=spec, rows=args.rows,
                           cols=args.cols, report=report)
    if not result.passed or not report.exists():
        raise RuntimeError(f"the accelerator disagreed with the integer engine (or the "
                           f"simulation failed; its files are in {work}): {result}")
    record = json.loads(report.read_text())
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(record, indent=2))
        return
    accuracy = ("" if record["accuracy"] is None
                else f"accuracy {100 * record['accuracy']:.2f} %, ")
    print(f"{args.network} ({record['scheme']}, {record['family']}) on "
          f"{_count(len(x), 'image')} of "
          f"{spec}: every layer bit-exact with the integer engine; {accuracy}"
          f"{record['cycles_per_image']:,.0f} cycles per image on a {record['array']} array "
          f"(PE utilisation {100 * record['utilisation']:.1f} %)")



def _program_name(stem):
    """The header's name of a program: the file stem's first 16 characters, each one that
    is not printable ASCII as ``?``."""
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in stem[:16])


def _compile(args):
    check_int("--rows", args.rows, 1, 64)
    check_int("--cols", args.cols, 1, 64)
    check_int("--memory", args.memory, 1, 1 << 32)
    check_int("--check", args.check, 0, 10000)
    output = _npz_target(args.output, ".bin")
    qnet = load_quantized(args.network)
    if args.check:
        args.images = args.check
        spec, x, _ = _images_for(args, qnet.network)
    program = compile_network(qnet, rows=args.rows, cols=args.cols, memory_codes=args.memory,
                              name=_program_name(Path(args.network).stem))
    data = program.to_bytes()
    output.write_bytes(data)
    print(f"wrote {output}: {len(data):,} bytes (CRC-32 {data[-4:][::-1].hex()}); "
          f"{program.summary()}")
    if not args.check:
        return
    machine = Machine(read_program(output.read_bytes()))
    expected = qnet.run_integer(x)
    for index, codes in enumerate(program.input_codes(x)):
        if not np.array_equal(machine.run(codes), expected[index]):
            raise RuntimeError(f"the program's interpreter disagrees with the integer engine "
                               f"on image {index} of {spec} (a compiler bug: please report "
                               f"it with the network file)")
    print(f"checked: on {_count(len(x), 'image')} of {spec} the program's logits equal the "
          f"integer engine's, bit for bit")


def _energy_record(option):
    """(path, record) of the energy record named by ``--energy`` (an error if missing or not
    one), else of this checkout's, with record None when it was not made."""
    from scripts.asic.inference import per_mac_by_width

    path = Path(option or ENERGY_RECORD)
    if option is not None and not path.is_file():
        raise FileNotFoundError(f"the energy record {path} does not exist (make report "
                                f"writes build/report/energy.json)")
    if not path.is_file():
        return path, None
    try:
        energy = json.loads(path.read_text())
        if not isinstance(energy, dict):
            raise TypeError(f"it holds a JSON {type(energy).__name__}, not an object")
        per_mac_by_width(energy)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not an energy record of make report "
                         f"({type(error).__name__}: {error})") from None
    return path, energy


def _report(args):
    from scripts.asic.inference import (SRAM_PJ_PER_BIT, SRAM_SOURCE, inference_energy,
                                        per_mac_by_width, priced_design)
    from scripts.designs import format_key, key_label

    qnet = load_quantized(args.network)
    traffic = qnet.traffic()
    record = {"network": str(args.network), "scheme": qnet.scheme, "n": qnet.n,
              "family": qnet.family.spec, "largest_K": largest_K(qnet.network), **traffic}
    extras = []
    try:
        check_runnable(qnet, qnet.hardware_family)
    except ValueError as error:  # priced all the same, as the kind's design: say so
        record["not_built"] = str(error)
    else:
        extras = ([f"its unsigned variants ({qnet.hardware_family.label})"]
                  if qnet.hardware_family != qnet.family else [])
        if qnet.mx_block is not None:
            extras.append(f"the block shifters of its blocks of {qnet.mx_block}")
    energy_path, energy = _energy_record(args.energy)
    if energy is None:
        record["energy"] = f"no energy record at {energy_path} (make report measures one)"
    else:
        per_mac = per_mac_by_width(energy)
        made = energy.get("made", {}).get("at") or time.strftime(
            "%Y-%m-%d %H:%M UTC (file time)", time.gmtime(energy_path.stat().st_mtime))
        family_key = format_key(qnet.family)
        # Not measured at this width: the plain design, named in the message below.
        design, plain = (priced_design(per_mac.get(qnet.n, {}), qnet.scheme, family_key)
                         or (family_key, True))
        if extras and plain:  # built, but the energy record did not measure the build
            record["priced_as"] = (f"the {qnet.family.label} design's energy, without "
                                   f"{' and '.join(extras)}")
        measured = sorted(n for n, designs in per_mac.items() if design in designs)
        if qnet.n not in measured:
            record["energy"] = (f"{energy_path} (made {made}) measured {key_label(design)} "
                                f"at n = {', '.join(map(str, measured)) or 'no width'}, not "
                                f"{qnet.n}: "
                                f"no energy per inference")
        else:
            record["energy"] = {"record": str(energy_path), "made": made, "design": design,
                                "library": energy.get("library"),
                                "sram_source": SRAM_SOURCE,
                                **inference_energy(traffic,
                                                   per_mac[qnet.n][design])}
    if args.json:
        print(json.dumps(record, indent=2))
        return
    print(f"{args.network}: {qnet.scheme} at n = {qnet.n}")
    print(f"  {traffic['macs']:,} MACs per inference; memory {traffic['weight_bits']:,} weight "
          f"bits, {traffic['bias_bits']:,} bias bits, {traffic['activation_bits']:,} activation "
          f"bits (every weight and bias read once, every tensor written once and read once per "
          f"consumer)")
    print(f"  longest dot product K = {record['largest_K']:,} (a board build runs it with "
          f"make synth MAX_K={record['largest_K']} or more)")
    if "not_built" in record:
        print(f"  not built in hardware: {record['not_built']}; the energy below is the "
              f"{qnet.family.label} design's, without what this scheme would add")
    if "priced_as" in record:
        print(f"  priced as {record['priced_as']}")
    e = record["energy"]
    if isinstance(e, str):
        print(f"  energy: {e}")
        return
    levels = " / ".join(f"{e['energy_nj'][level]:,.0f}" for level in SRAM_PJ_PER_BIT)
    print(f"  energy per inference: array {e['array_nj']:,.0f} nJ ({e['pj_per_mac']:.1f} pJ "
          f"per MAC, the {key_label(e['design'])} 4x4 accelerator's whole energy on the trained "
          f"layer); with memory at {' / '.join(f'{v:.1f}' for v in SRAM_PJ_PER_BIT.values())} pJ/bit "
          f"(low / stated / high): {levels} nJ")
    print(f"  from {e['record']} (make report, made {e['made']}, {e['library']}); SRAM: "
          f"{SRAM_SOURCE}")



def _deploy(args):
    import asyncio

    from hdl.network_runner import run_on_device

    check_int("--images", args.images, 1, 10000)
    check_int("--baud", args.baud, *BAUD_RANGE)
    HostClient(None, timeout=args.timeout, retries=args.retries)  # checks both
    qnet = load_quantized(args.network)
    network = qnet.network
    spec, x, y = _images_for(args, network)
    if args.resident:
        return _deploy_resident(args, qnet, spec, x, y)
    client = HostClient(SerialTransport(args.port, args.baud), timeout=args.timeout,
                        retries=args.retries)
    codes = asyncio.run(run_on_device(client, qnet, x))
    golden = qnet.run_integer(x, keep=True)
    for node in network.nodes:
        if not np.array_equal(codes[node.name], golden[node.name]):
            wrong = int(np.count_nonzero(codes[node.name] != golden[node.name]))
            raise RuntimeError(f"layer {node.name!r}: {wrong} of {codes[node.name].size} codes "
                               f"from the board differ from the integer engine's")
    out_fmt = qnet.format_of(network.output)
    predictions = np.argmax(out_fmt.decode(codes[network.output]), axis=1)
    accuracy = "" if y is None else f"; accuracy {100 * np.mean(predictions == y):.2f} %"
    print(f"{_count(len(x), 'image')} of {spec} on the board at {args.port}: every layer "
          f"bit-exact with "
          f"the integer engine{accuracy} (resent frames: {client.resent})")


def _deploy_resident(args, qnet, spec, x, y):
    import asyncio
    import time

    from hdl.client import ResidentClient
    from hdl.network_runner import classify_resident

    client = ResidentClient(SerialTransport(args.port, args.baud), timeout=args.timeout,
                            retries=args.retries)

    async def session():
        build = await client.info()
        program = compile_network(qnet, rows=build.lanes, cols=build.lanes,
                                  memory_codes=1 << build.address_bits,
                                  name=_program_name(Path(args.network).stem))
        start = time.monotonic()
        labels, sent = await classify_resident(client, program, program.input_codes(x))
        return program, labels, sent, time.monotonic() - start

    program, labels, sent, seconds = asyncio.run(session())
    accuracy = "" if y is None else f"; accuracy {100 * np.mean(np.array(labels) == y):.2f} %"
    print(f"{program.summary()}\n{'loaded' if sent else 'already loaded'} on the board at "
          f"{args.port}; {_count(len(x), 'image')} of {spec} classified, every class and "
          f"logit bit-exact with the golden interpreter{accuracy}; {len(x) / seconds:.1f} "
          f"images per second over the line, loading included (resent frames: "
          f"{client.resent})")


if __name__ == "__main__":
    sys.exit(main())
