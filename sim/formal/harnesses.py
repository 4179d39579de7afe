"""Harnesses of the formal checks: components that put a design beside its reference
(:mod:`sim.formal.references`) and state what must hold with Amaranth ``Assert`` and
``Assume``; and the small designs the stream-rule checks are made on."""

from amaranth.hdl import Assert, Assume, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from golden.arith import ScalingLimits
from golden.family import TFXFamily
from hdl.accelerator import Accelerator, BlockShifter, stream_layouts
from hdl.decoder import Decoder
from hdl.hostlink import FrameExecutor, FrameReceiver, ReplyFramer
from hdl.mac import DecodingMAC
from hdl.protocol import HOST_SYNC, BuildInfo, item_bytes
from hdl.runtime import field_ports, field_values
from .references import crc_bitwise, reference_operand, shifted_reference

__all__ = ["DecoderCheck", "MACFormsCheck", "BlockShifterCheck", "StreamRulesCheck", "CRCCheck",
           "keeps_offer",
           "executor", "framer", "accelerator", "large_accelerator"]


def _assume_fields(m, family, fields):
    for name, (low, high) in family.fields.items():
        m.d.comb += Assume((fields[name] >= low) & (fields[name] <= high))


class DecoderCheck(wiring.Component):
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


class BlockShifterCheck(wiring.Component):
    """A K-tile's partial sum into the accumulator (block-scaled weights) equals ``psum *
    2**shift`` for every partial sum and every legal shift."""

    def __init__(self, psum_width, max_shift):
        self.psum_width, self.max_shift = psum_width, max_shift
        super().__init__({"psum": In(signed(psum_width)), "shift": In(range(max_shift + 1))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = BlockShifter(psum_width=self.psum_width,
                                              max_shift=self.max_shift)
        m.d.comb += [dut.psum.eq(self.psum), dut.shift.eq(self.shift),
                     Assume(self.shift <= self.max_shift),
                     Assert(dut.shifted == shifted_reference(self.psum, self.shift,
                                                             self.max_shift))]
        return m


class MACFormsCheck(wiring.Component):
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


class StreamRulesCheck(wiring.Component):
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


class CRCCheck(wiring.Component):
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
            references.append(crc_bitwise(m, [b[7 - i] for b in message for i in range(8)],
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


_LAYOUTS = stream_layouts(TFXFamily(6, 2), 2, 2, ScalingLimits(bias_bits=8, m_bits=3,
                                                              shift_max=3))


def executor():
    sizes = tuple(sorted({item_bytes(_LAYOUTS[n].size) for n in ("config", "weights",
                                                                  "activations")}))
    return FrameExecutor(layouts=_LAYOUTS, family=TFXFamily(6, 2),
                         limits=ScalingLimits(bias_bits=8, m_bits=3, shift_max=3), depth=3,
                         max_k_tiles=2, max_payload=16, item_sizes=sizes, stall_cycles=16)


def framer():
    info = BuildInfo("tfx:6,2", "int", 2, 2, 3, 4, 8, 3, 3, 16)
    return ReplyFramer(info=info.to_payload(), result_layout=_LAYOUTS["results"])


def accelerator():
    return Accelerator(family=TFXFamily(4, 2), rows=1, cols=2, max_K=2, depth=2,
                       limits=ScalingLimits(bias_bits=6, m_bits=2, shift_max=2),
                       scaling="shared")


def large_accelerator():
    return Accelerator(family=TFXFamily(5, 3), form="ses", rows=2, cols=2, max_K=4, depth=3,
                       limits=ScalingLimits(bias_bits=8, m_bits=3, shift_max=3))
