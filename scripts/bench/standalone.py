"""What the resident build does with whole networks: whether each compiles and fits the
build, its cycles per image, and its latency and images per second with the image's transfer
over the UART. The build is the iCEBreaker's 4 x 4 by default (``--board``, ``--lanes``: any
board and square array ``make synth MODE=resident`` builds).

For each network (the digits and Fashion-MNIST ConvNets, trained and shipped; ResNet-8 of
MLPerf Tiny's image classification, with random weights and images because CIFAR-10 is not
available here) and each format (TFX8 and FXP8 at the board's scaling limits), the network
is quantized and compiled for the build that ``make synth MODE=resident`` makes
(:func:`scripts.fpga.flow.resident_device`), checked against the build's capacities as
``tent deploy --resident`` checks it (:meth:`hdl.client.ResidentClient.check_fits`), and
run once in the core on Verilator (:func:`sim.core_bench.run_core_bench`), its logits and
class checked against the golden interpreter. Latency = the bytes of the image's INPUT
and RUN frames and of the RESULT frame at 10 bits per byte over the line, plus the core's
cycles at the build's clock, for one image alone. Pipelined: an image that fits one frame
is also classified back to back with the next ones on the whole device over the UART model
(:func:`pipelined`), the next image on the line while this one computes; the cycles between
two RESULTs are measured. The record says whether a placement has met that clock, from
``make synth``'s record of the same build when there is one. Writes
``build/standalone/standalone.json`` and ``.md`` (another build:
``build/standalone-BOARD-LANESxLANES/``). Entry point: ``make standalone``.
"""

import argparse
import functools
import json
import sys
import warnings
from dataclasses import replace

import numpy as np
from amaranth.hdl import UnusedElaboratable
from tqdm import tqdm

from golden.compiler import compile_network
from golden.network import Network, Node, fold, load_network
from golden.ptq import quantize_network
from hdl.client import ResidentClient, image_frames
from hdl.protocol import DEVICE_SYNC, HOST_SYNC, Reply, encode_frame
from scripts.fpga.flow import RESIDENT_CAPACITIES, SynthConfig, resident_device
from scripts.records import markdown_table, write_report

__all__ = ["resnet8", "networks", "measure", "markdown", "main"]

#: The formats measured: (format, scheme).
FORMATS = (("tfx", "tfx"), ("fxp", "fxp-layer"))
BAUDS = (1_000_000, 3_000_000)
DEFAULT_BOARD, DEFAULT_LANES, MAX_K = "icebreaker", 4, 1568
# Images classified back to back. The steady rate is the gap between the second and third
# RESULTs: each came in once the next image had been sent; the last one has no next image,
# so its gap is the compute alone even when the line is slower.
PIPELINED_IMAGES = 4


def _conv(name, source, c_in, c_out, rng, *, k=3, stride=1, relu=True):
    std = np.sqrt(2 / (c_in * k * k))  # He initialisation
    return Node("conv", name, {"input": source, "stride": stride, "padding": (k - 1) // 2,
                               "relu": relu},
                {"weight": rng.normal(0, std, (c_out, c_in, k, k)),
                 "bias": rng.normal(0, 0.05, c_out)})


def resnet8(seed=0):
    """MLPerf Tiny's image-classification ResNet-8 (32 x 32 x 3 in; a 3 x 3 stem of 16
    filters; three stages of one basic block, 16, 32 and 64 filters, the second and third of
    stride 2 with a 1 x 1 projection shortcut; global average pooling; a dense layer of 10)
    with He-initialised random weights, batch norm already folded."""
    rng = np.random.default_rng(seed)
    nodes, source, c_in = [_conv("stem", "input", 3, 16, rng)], "stem", 16
    for stage, (c_out, stride) in enumerate([(16, 1), (32, 2), (64, 2)]):
        a = _conv(f"s{stage}a", source, c_in, c_out, rng, stride=stride)
        b = _conv(f"s{stage}b", a.name, c_out, c_out, rng, relu=False)
        nodes += [a, b]
        shortcut = source
        if stride != 1 or c_in != c_out:
            projection = _conv(f"s{stage}p", source, c_in, c_out, rng, k=1, stride=stride,
                               relu=False)
            nodes.append(projection)
            shortcut = projection.name
        nodes.append(Node("add", f"s{stage}", {"inputs": [b.name, shortcut], "relu": True}))
        source, c_in = f"s{stage}", c_out
    nodes += [Node("avgpool", "pool", {"input": source}),
              Node("flatten", "flat", {"input": "pool"}),
              Node("dense", "fc", {"input": "flat", "relu": False},
                   {"weight": rng.normal(0, np.sqrt(1 / 64), (64, 10)),
                    "bias": np.zeros(10)})]
    return Network(nodes, (3, 32, 32), {"made": "scripts.bench.standalone.resnet8, random"})


def networks():
    """(name, folded network, calibration images, one test image) of each measured network."""
    from golden.datasets import load
    from golden.models import model_path

    found = []
    for dataset in ("digits", "fashion-mnist"):
        network = fold(load_network(model_path(dataset, "convnet", 0)))
        found.append((f"{dataset} ConvNet", network, load(dataset, "calibration")[0][:256],
                      load(dataset, "test")[0][:PIPELINED_IMAGES]))
    rng = np.random.default_rng(8)
    images = rng.uniform(0, 1, (256 + PIPELINED_IMAGES, 3, 32, 32))
    found.append(("ResNet-8 (random weights)", resnet8(), images[:256], images[256:]))
    return found


def network_macs(network):
    """The network's own multiply-accumulates per image (convolutions and dense layers)."""
    macs = 0
    for node in network.nodes:
        if node.op == "conv":
            _, c_per_group, kh, kw = node.arrays["weight"].shape
            macs += int(np.prod(network.shapes[node.name])) * c_per_group * kh * kw
        elif node.op == "dense":
            macs += node.arrays["weight"].size
    return macs


def _line_bytes(program, image_codes, max_payload):
    """Bytes on the line per image: the frames of its input codes, as
    :meth:`hdl.client.ResidentClient.classify` sends them (:func:`hdl.client.image_frames`),
    and the RESULT frame (the logits and the class)."""
    sent = sum(len(encode_frame(HOST_SYNC, command, payload))
               for command, payload in image_frames(image_codes, max_payload))
    result = encode_frame(DEVICE_SYNC, Reply.RESULT, bytes(program.output["count"] + 2))
    return sent, len(result)


def build_config(kind, *, board=DEFAULT_BOARD, lanes=DEFAULT_LANES, max_K=MAX_K):
    """The resolved :class:`scripts.fpga.flow.SynthConfig` of the resident build measured."""
    return SynthConfig(board=board, mode="resident", format=kind, rows=lanes, cols=lanes,
                       max_K=max_K).resolved()


def line_baud(config):
    """The fastest of :data:`BAUDS` that the build's clock makes."""
    for baud in sorted(BAUDS, reverse=True):
        try:
            replace(config, baud=baud).clocks_per_bit
        except ValueError:
            continue
        return baud
    raise ValueError(f"the build's clock makes none of {BAUDS} baud")


def pipelined(program, images, config):
    """The device classifying ``images`` (input codes) back to back over the UART model at
    :func:`line_baud` (:meth:`hdl.client.ResidentClient.classify_many`: the next image on
    the line while this one computes), each bit-exact: the cycles between the second and
    third RESULT frames, and the baud."""
    from hdl.standalone.device import ResidentDevice
    from sim.hostlink_bench import run_resident_bench

    baud = line_baud(config)
    device = ResidentDevice(
        family=program.family, lanes=program.rows, depth=config.depth, max_K=program.max_k,
        limits=program.limits, clocks_per_bit=replace(config, baud=baud).clocks_per_bit,
        **RESIDENT_CAPACITIES)
    result = run_resident_bench(program, images, device=device, fuzz=False,
                                simulator="verilator", testcase="pipelined_throughput",
                                timeout=0.05)
    if not result.passed:
        raise RuntimeError(f"the pipelined device bench failed: {result.log}")
    arrived = json.loads((result.run_dir / "results.json").read_text())["result_cycles"]
    return arrived[2] - arrived[1], baud


def measure(name, network, calibration, images, kind, scheme, *, board=DEFAULT_BOARD,
            lanes=DEFAULT_LANES):
    """One network in one format on the resident build: its row of the record."""
    config = build_config(kind, board=board, lanes=lanes)
    info = _build_info(config)
    qnet = quantize_network(network, scheme, 8, calibration, family=config.family,
                            limits=config.limits)
    program = compile_network(qnet, rows=lanes, cols=lanes, memory_codes=1 << 17)
    row = {"network": name, "format": config.family.spec, "scheme": scheme,
           "instructions": len(program.instructions), "records": len(program.bias),
           "memory_codes": program.memory_codes, "max_k": program.max_k,
           "macs": network_macs(network), "array_macs": program.array_macs,
           "clock_mhz": config.clock_hz / 1e6}
    fits, why = _fits(program, info)
    row.update(fits=fits, why=why)
    if not fits:
        return row
    from sim.core_bench import run_core_bench

    all_codes = program.input_codes(images)
    image_codes = all_codes[0]
    cycles = run_core_bench(program, image_codes, depth=config.depth)
    run_bytes, result_bytes = _line_bytes(program, image_codes, info.max_payload)
    compute_s = cycles / config.clock_hz
    line = {}
    for baud in BAUDS:
        latency = (run_bytes + result_bytes) * 10 / baud + compute_s
        line[str(baud)] = {"latency_ms": 1e3 * latency, "images_per_s": 1 / latency}
    frames = len(image_frames(image_codes, info.max_payload))
    stream = None
    if frames == 1:  # several frames wait for their ACKs: no overlap
        between, baud = pipelined(program, all_codes, config)
        stream = {"baud": baud, "cycles_per_image": between,
                  "ms_per_image": 1e3 * between / config.clock_hz,
                  "images_per_s": config.clock_hz / between}
    return {**row, "cycles": cycles, "compute_ms": 1e3 * compute_s,
            "macs_per_cycle": row["macs"] / cycles, "input_frame_bytes": run_bytes,
            "result_frame_bytes": result_bytes, "line": line, "input_frames": frames,
            "pipelined": stream}


@functools.cache
def _build_info(config):
    """The INFO of the resident build of ``config``, built once (never elaborated)."""
    return resident_device(config).info


def _fits(program, info):
    """Whether ``program`` fits the build of ``info`` as ``tent deploy --resident`` checks
    it, and if not, why."""
    client = ResidentClient(None)
    client.build = info
    try:
        client.check_fits(program)
    except ValueError as error:
        return False, str(error)
    return True, None


def placement(config):
    """What ``make synth`` says of the build of ``config``, from its record in
    ``build/synth/`` (None when it has not been built): whether it fits, nextpnr's demand
    when it does not, and the median fmax over its seeds and whether it meets the clock."""
    from sim.toolchain import BUILD

    path = BUILD / "synth" / config.name / "synth.json"
    if not path.exists():
        return None
    synth = json.loads(path.read_text())
    return {key: synth.get(key) for key in ("fits", "demand", "fmax_mhz_median", "fmax_mhz",
                                            "meets_clock", "device", "resources")}


def _placed(label, placed):
    """One build's placement in words."""
    if placed is None:
        return f"{label}: `make synth` not run"
    if not placed["fits"]:
        return f"{label}: does not fit the {placed['device']}, so no placement has met it"
    seeds = len(placed["fmax_mhz"])
    return (f"{label}: {'met' if placed['meets_clock'] else 'not met'}, median fmax "
            f"{placed['fmax_mhz_median']:.1f} MHz over {seeds} seed{'s' if seeds != 1 else ''}")


def _clock_sentence(record):
    source = "its PLL's clock" if record["pll"] else "the board's clock"
    placed = "; ".join(_placed(spec, placed) for spec, placed in record["placements"].items())
    return f"at {record['clock_mhz']:g} MHz ({source}; {placed})"


def _pipelined_cell(row):
    stream = row.get("pipelined")
    if stream is None:
        return f"not pipelined ({row.get('input_frames', '?')} frames an image)"
    return (f"{stream['images_per_s']:.0f} at {stream['baud'] / 1e6:g} Mbaud "
            f"({stream['cycles_per_image']:,} cycles)")


def markdown(record):
    rows = []
    for r in record["rows"]:
        cells = [r["network"], r["format"], f"{r['memory_codes']:,}",
                 "yes" if r["fits"] else "no"]
        if not r["fits"]:  # not measured
            rows.append(cells + [""] * 6)
            continue
        slow, fast = (r["line"][str(b)] for b in BAUDS)
        rows.append(cells + [f"{r['cycles']:,}", f"{r['macs_per_cycle']:.1f}",
                             f"{r['compute_ms']:.2f}", f"{slow['latency_ms']:.2f} / "
                             f"{fast['latency_ms']:.2f}", f"{slow['images_per_s']:.0f} / "
                             f"{fast['images_per_s']:.0f}", _pipelined_cell(r)])
    lines = [f"The resident build for the {record['board']}, {record['array']} array, "
             f"accumulator depth {record['depth']}, {_clock_sentence(record)}. Cycles: one "
             f"run of the "
             f"core on {record['simulator']}, logits and class bit-exact with the golden "
             f"interpreter. MACs per cycle: the network's own MACs (not the padded lanes') "
             f"over the cycles. Latency: the image's INPUT and RUN frames and the RESULT "
             f"frame at 10 bits a byte, then the cycles, one image after the other. "
             f"Pipelined: the device on Verilator with the UART model at the fastest of 1 and "
             f"3 Mbaud its clock makes, {PIPELINED_IMAGES} images sent back to back by "
             f"`ResidentClient.classify_many` (the next image on the line while this one "
             f"computes), bit-exact; the cycles between the second and third RESULT frames "
             f"(each after the next image was sent). An image "
             f"of several frames is not pipelined (each frame waits for its ACK). "
             f"`python -m scripts.bench.standalone` (`make standalone`).", ""]
    lines += markdown_table(
        ["network", "format", "memory (codes of 131,072)", "fits the build", "cycles",
         "MACs per cycle", "compute (ms)", "latency at 1 / 3 Mbaud (ms)",
         "images per second at 1 / 3 Mbaud", "images per second, pipelined (measured)"],
        rows, align="llrlrrrrrr")
    refused = [r for r in record["rows"] if not r["fits"]]
    if refused:
        lines += [""] + [f"- {r['network']}, {r['format']}: {r['why']}." for r in refused]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.standalone",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", default=DEFAULT_BOARD,
                        help="the board of the resident build (default: %(default)s)")
    parser.add_argument("--lanes", type=int, default=DEFAULT_LANES,
                        help="the array's side: 2, 4 or 8 (default: %(default)s)")
    parser.add_argument("-o", "--out", default=None,
                        help="directory of the record (default: build/standalone, or "
                             "build/standalone-BOARD-LANESxLANES for another build)")
    args = parser.parse_args(argv)
    try:
        config = build_config("fxp", board=args.board, lanes=args.lanes)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out or ("build/standalone" if (args.board, args.lanes) == (
        DEFAULT_BOARD, DEFAULT_LANES) else f"build/standalone-{args.board}-{args.lanes}x"
        f"{args.lanes}")
    # The devices are built only for their INFO; unelaborated, they warn when collected.
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    found = networks()
    jobs = [(net, kind, scheme) for net in found for kind, scheme in FORMATS]
    rows = []
    for (name, network, calibration, image), kind, scheme in tqdm(jobs, desc="standalone"):
        rows.append(measure(name, network, calibration, image, kind, scheme,
                            board=args.board, lanes=args.lanes))
        tqdm.write(f"{name} {kind}: {rows[-1].get('cycles', 'does not fit')}")
    builds = [build_config(kind, board=args.board, lanes=args.lanes) for kind, _ in FORMATS]
    placements = {build.family.spec: placement(build) for build in builds}
    record = {"board": args.board, "array": f"{args.lanes}x{args.lanes}",
              "depth": config.depth, "clock_mhz": config.clock_hz / 1e6,
              "pll": config.pll is not None, "placements": placements,
              "simulator": "Verilator (cocotb), RTL", "rows": rows}
    write_report(out, "standalone", record, markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
