"""The pooling and addition unit: ``MAXPOOL``, ``AVGPOOL`` and ``ADD`` of a standalone
program, a memory word (``lanes`` codes) at a time.

The hardware of :meth:`golden.interpreter.Machine._maxpool`, ``_avgpool`` and ``_add``:
max-pooling compares ordinals lane by lane; average pooling sums each lane's exact
integers over the window and rounds once in a scaling stage; addition aligns the two
integers to the finer scale, sums them and rounds once (ReLU and clip as in ``MATMUL``).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring

from golden._checks import check_int
from golden.arith import DEFAULT_LIMITS
from golden.program import Op
from ..decoder import Decoder
from ..formats import hardware_for
from ..scaling import ScalingStage
from .matmul import check_lanes, unit_members

__all__ = ["ElementwiseUnit"]


class ElementwiseUnit(wiring.Component):
    """Runs one ``MAXPOOL``, ``AVGPOOL`` or ``ADD`` instruction on the code memory.

    Parameters
    ----------
    family : golden.family.Family
    lanes : int
        Codes per memory word (the array's side: :func:`.matmul.check_lanes`).
    address_bits : int
        Code addresses.
    limits : golden.arith.ScalingLimits
    max_align : int
        The largest difference of the two inputs' exponents an ``ADD`` aligns (its sum
        register is ``operand_width + max_align + 1`` bits wide).

    Members
    -------
    instruction : In(instruction_struct())
        Sampled with ``start``.
    start : In(1), busy : Out(1)
    memory : Out(MemoryPort)
    params : Out(ParamPort)
        ``AVGPOOL``'s record (M and shift).

    Notes
    -----
    Per output word: ``MAXPOOL`` reads its window (``kernel_h * kernel_w`` cycles and one);
    ``AVGPOOL`` reads it and scales each lane in turn; ``ADD`` reads two words and scales each
    lane. One scaling stage and one decoder per input serve every lane. Not fast: these
    layers are a small share of a network's work.
    """

    def __init__(self, *, family, lanes, address_bits, limits=DEFAULT_LIMITS, max_align=24):
        self._family = family
        self._lanes = check_lanes(lanes, lanes)
        self._address_bits = check_int("address_bits", address_bits, 1, 32)
        self._limits = limits
        self._max_align = check_int("max_align", max_align, 0, 64)
        self._sum_width = family.operand_width + 17 + max_align
        self._stage = ScalingStage(acc_width=self._sum_width, out_family=family,
                                   limits=limits, multiplier="fabric")
        super().__init__(unit_members(family=family, lanes=lanes, address_bits=address_bits,
                                      limits=limits))

    def elaborate(self, platform):
        m = Module()
        family, lanes, n = self._family, self._lanes, self._family.n
        shift = (lanes - 1).bit_length()
        held = Signal.like(self.instruction)
        with m.If(self.start & ~self.busy):
            m.d.sync += held.eq(self.instruction)
        op = held.op
        m.submodules.stage = stage = self._stage
        for index, name in enumerate(family.fields):
            m.d.comb += getattr(stage, f"out_{name}").eq(held.out_fmt[1 + index])
        m.d.comb += [stage.out_scale.eq(held.out_fmt[0]), stage.nar_in.eq(0)]

        def int_exponent(scale):  # the operand exponent of a member with this scale
            return (family.accumulator_exponent(scale, 0)
                    - family.accumulator_exponent(0, 0) // 2)

        exponent_a, exponent_b = int_exponent(held.a_fmt[0]), int_exponent(held.b_fmt[0])
        finer = Mux(exponent_a < exponent_b, exponent_a, exponent_b)

        # Loops: output pixel (oy, ox), word of its run, window tap (ky, kx); addresses as
        # running sums (set-up: row = in_w * in_c, step_x, step_y as in VectorAddresses).
        oy, ox, word = Signal(16), Signal(16), Signal(16)
        ky, kx = Signal(8), Signal(8)
        wide = unsigned(self._address_bits)  # addresses modulo 2**address_bits
        row, step_x, step_y = Signal(wide), Signal(wide), Signal(wide)
        corner, row_start, y_tap, x_tap = (Signal(wide) for _ in range(4))
        count = Signal(16)
        out_word = Signal(self.memory.address.shape())
        last_tap = (ky == held.kernel_h - 1) & (kx == held.kernel_w - 1)
        last_word = word == (held.in_c >> shift) - 1
        last_pixel = (oy == held.out_h - 1) & (ox == held.out_w - 1)
        second = Signal()  # ADD: the word of src2
        offset = corner + (word << shift)
        m.d.comb += self.memory.address.eq(
            Mux(second, held.src2 - held.src + offset, offset + y_tap + x_tap) >> shift)
        m.d.comb += self.params.address.eq(held.params)
        record = Signal.like(self.params.read_data)

        read_data = self.memory.read_data
        best = Signal(data.ArrayLayout(n, lanes))  # MAXPOOL
        sums = Signal(data.ArrayLayout(signed(self._sum_width), lanes))  # AVGPOOL, ADD
        result = Signal(data.ArrayLayout(n, lanes))
        lane = Signal(range(lanes))
        first_tap = Signal()
        ordinal = hardware_for(family).ordinal

        def fold():
            """The word read in the previous cycle into every lane's maximum or sum."""
            for j in range(lanes):
                code = read_data[j]
                keep = ~first_tap & (ordinal(family, best[j]) >= ordinal(family, code))
                m.d.sync += best[j].eq(Mux(keep, best[j], code))
                m.submodules[f"decode_{j}"] = decoder = Decoder(family=family, form="int")
                for index, name in enumerate(family.fields):
                    m.d.comb += getattr(decoder, name).eq(
                        Mux(second, held.b_fmt[1 + index], held.a_fmt[1 + index]))
                value = decoder.operand.value
                m.d.comb += decoder.code.eq(code)
                aligned = Mux(second, value << (exponent_b - finer)[:7],
                              value << (exponent_a - finer)[:7])
                m.d.sync += sums[j].eq(Mux(first_tap & ~second, 0, sums[j])
                                       + Mux(op == Op.ADD, aligned, value))

        def write(codes):
            m.d.comb += [self.busy.eq(1), self.memory.address.eq(out_word),
                         self.memory.write.eq((1 << lanes) - 1),
                         self.memory.write_data.eq(codes)]
            m.d.sync += out_word.eq(out_word + 1)
            with m.If(~last_word):
                m.d.sync += word.eq(word + 1)
                m.next = "WORD"
            with m.Elif(~last_pixel):
                m.d.sync += word.eq(0)
                with m.If(ox == held.out_w - 1):
                    m.d.sync += [ox.eq(0), oy.eq(oy + 1), corner.eq(row_start + step_y),
                                 row_start.eq(row_start + step_y)]
                with m.Else():
                    m.d.sync += [ox.eq(ox + 1), corner.eq(corner + step_x)]
                m.next = "WORD"
            with m.Else():
                m.next = "IDLE"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [row.eq(0), step_x.eq(0), step_y.eq(0), count.eq(0)]
                    m.next = "ROW"
            with m.State("ROW"):
                m.d.comb += self.busy.eq(1)
                with m.If(count == held.in_w):
                    m.d.sync += count.eq(0)
                    m.next = "STEP"
                with m.Else():
                    m.d.sync += [row.eq(row + held.in_c), count.eq(count + 1)]
            with m.State("STEP"):
                m.d.comb += self.busy.eq(1)
                with m.If(count == held.stride):
                    m.d.sync += [oy.eq(0), ox.eq(0), word.eq(0), corner.eq(held.src),
                                 row_start.eq(held.src), out_word.eq(held.dst >> shift),
                                 record.eq(self.params.read_data)]
                    m.next = "WORD"
                with m.Else():
                    m.d.sync += [step_x.eq(step_x + held.in_c), step_y.eq(step_y + row),
                                 count.eq(count + 1)]
            with m.State("WORD"):  # an output word starts
                m.d.comb += self.busy.eq(1)
                m.d.sync += [ky.eq(0), kx.eq(0), y_tap.eq(0), x_tap.eq(0), first_tap.eq(1),
                             second.eq(0)]
                m.next = "READ"
            with m.State("READ"):
                m.d.comb += [self.busy.eq(1), self.memory.read.eq(1)]
                m.next = "LAND"
            with m.State("LAND"):
                m.d.comb += self.busy.eq(1)
                fold()
                m.d.sync += first_tap.eq(0)
                with m.If(op == Op.ADD):
                    m.d.sync += second.eq(1)
                    m.next = "READ"
                    with m.If(second):
                        m.d.sync += lane.eq(0)
                        m.next = "SCALE"
                with m.Elif(~last_tap):
                    with m.If(kx == held.kernel_w - 1):
                        m.d.sync += [kx.eq(0), x_tap.eq(0), ky.eq(ky + 1),
                                     y_tap.eq(y_tap + row)]
                    with m.Else():
                        m.d.sync += [kx.eq(kx + 1), x_tap.eq(x_tap + held.in_c)]
                    m.next = "READ"
                with m.Elif(op == Op.MAXPOOL):
                    m.next = "WRITE_MAX"
                with m.Else():
                    m.d.sync += lane.eq(0)
                    m.next = "SCALE"
            with m.State("SCALE"):  # one lane into the scaling stage
                m.d.comb += self.busy.eq(1)
                is_add = op == Op.ADD
                m.d.comb += [stage.acc.eq(sums.as_value().word_select(lane, self._sum_width)
                                          if lanes > 1 else sums[0]),
                             stage.exponent.eq(Mux(is_add, finer, exponent_a)),
                             stage.M.eq(Mux(is_add, 1, record.M)),
                             stage.shift.eq(Mux(is_add, 0, record.shift)),
                             stage.relu.eq(held.flags[0]), stage.valid_in.eq(1)]
                m.next = "WAIT"
            with m.State("WAIT"):  # its code, clipped
                m.d.comb += self.busy.eq(1)
                with m.If(stage.valid_out):
                    code = stage.code
                    clipped = Mux(held.flags[1] & (code > held.clip[:n]), held.clip[:n], code)
                    for j in range(lanes):
                        with m.If(lane == j):
                            m.d.sync += result[j].eq(clipped)
                    with m.If(lane == lanes - 1):
                        m.next = "WRITE"
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
                        m.next = "SCALE"
            with m.State("WRITE_MAX"):
                write(best)
            with m.State("WRITE"):
                write(result)
        return m
