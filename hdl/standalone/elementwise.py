"""The pooling and addition unit: ``MAXPOOL``, ``AVGPOOL`` and ``ADD`` of a standalone
program, a memory word (``lanes`` codes) at a time.

The hardware of :meth:`golden.interpreter.Machine._maxpool`, ``_avgpool`` and ``_add``:
max-pooling compares ordinals lane by lane; average pooling sums each lane's exact
integers over the window and rounds once in a scaling stage; addition aligns the two
integers to the finer scale, sums them and rounds once (ReLU and clip as in ``MATMUL``).
"""

import functools

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden._checks import check_bool, check_int
from golden.arith import DEFAULT_LIMITS
from golden.program import Op
from ..accelerator import external_scaling_layout
from ..decoder import Decoder
from ..formats import hardware_for
from ..scaling import ScalingStage
from .matmul import check_lanes, drive_member, unit_members
from .schedule import check_fields, repeated_addition

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
    max_window : int
        The largest ``AVGPOOL`` window (taps) the sums hold.
    max_align : int
        The largest difference of the two inputs' exponents an ``ADD`` aligns. The sums are
        ``operand_width + bits(max_window) + max_align + 1`` bits wide (:attr:`sum_width`).
    fields : FieldBits, optional
        How wide its counters hold sizes and channel counts (:class:`.schedule.FieldBits`;
        the core refuses an instruction beyond them).
    shared_scaling : bool
        Round through the array's shared scaling stage (``scaling``, ``scaled_code`` and
        ``scaled_valid``, to an :class:`~hdl.accelerator.Accelerator`'s ``external``
        members) instead of a stage of its own.

    Members
    -------
    instruction : In(instruction_struct())
        Held from ``start`` until not ``busy``.
    start : In(1), busy : Out(1)
    memory : Out(MemoryPort)
    params : Out(ParamPort)
        ``AVGPOOL``'s record (M and shift).
    scaling : Out(external_scaling_layout), scaled_code : In(n), scaled_valid : In(1)
        With ``shared_scaling``: the stage it borrows while ``busy``.
    error : Out(1)
        Set by a ``start`` whose instruction passes ``max_window`` or ``max_align`` (it does
        not run); cleared by the next ``start``.

    Notes
    -----
    Per output word: ``MAXPOOL`` reads its window and folds each word into every lane's
    maximum at once (two cycles a tap); ``AVGPOOL`` and ``ADD`` fold each word they read a
    lane per cycle through one decoder and one aligning shifter, then scale each lane in
    turn through one scaling stage. Not fast: these layers are a small share of a
    network's work, and one of each costs the least logic.
    """

    def __init__(self, *, family, lanes, address_bits, limits=DEFAULT_LIMITS, max_window=64,
                 max_align=8, shared_scaling=False, fields=None):
        self._family = family
        self._lanes = check_lanes(lanes, lanes)
        self._address_bits = check_int("address_bits", address_bits, 1, 32)
        self._limits = limits
        self._max_window = check_int("max_window", max_window, 1, 255 * 255)
        self._max_align = check_int("max_align", max_align, 0, 64)
        self._sum_width = family.operand_width + max_window.bit_length() + max_align + 1
        self._shared = check_bool("shared_scaling", shared_scaling)
        self._fields = check_fields(fields)
        members = unit_members(family=family, lanes=lanes, address_bits=address_bits,
                               limits=limits)
        if shared_scaling:
            members.update({"scaling": Out(external_scaling_layout(family, limits,
                                                                   self._sum_width)),
                            "scaled_code": In(family.n), "scaled_valid": In(1)})
        else:
            self._stage = ScalingStage(acc_width=self._sum_width, out_family=family,
                                       limits=limits, multiplier="fabric")
        super().__init__({**members, "error": Out(1)})

    max_window = property(lambda self: self._max_window)
    sum_width = property(lambda self: self._sum_width)
    max_align = property(lambda self: self._max_align)

    def elaborate(self, platform):
        m = Module()
        family, lanes, n = self._family, self._lanes, self._family.n
        shift = (lanes - 1).bit_length()
        held = self.instruction
        fields = self._fields
        in_c = held.in_c[:fields.channels]
        in_w, out_h, out_w = (held.in_w[:fields.size], held.out_h[:fields.size],
                              held.out_w[:fields.size])
        op = held.op
        if self._shared:  # the array's stage, through its ``external`` members
            stage = self.scaling
            valid_in, valid_out, code_out = stage.valid, self.scaled_valid, self.scaled_code
            m.d.comb += stage.select.eq(self.busy)
        else:
            m.submodules.stage = stage = self._stage
            valid_in, valid_out, code_out = stage.valid_in, stage.valid_out, stage.code
            m.d.comb += stage.nar_in.eq(0)
        drive_member(m, stage, family, held.out_fmt, "out_")

        exponent_a = family.int_exponent(held.a_fmt[0])
        exponent_b = family.int_exponent(held.b_fmt[0])
        finer = Mux(exponent_a < exponent_b, exponent_a, exponent_b)

        # Loops: output pixel (oy, ox), word of its run, window tap (ky, kx); addresses as
        # running sums (set-up: row = in_w * in_c, step_x, step_y as in VectorAddresses).
        oy, ox, word = Signal(fields.size), Signal(fields.size), Signal(fields.channels)
        ky, kx = Signal(8), Signal(8)
        wide = unsigned(self._address_bits)  # addresses modulo 2**address_bits
        row, step_x, step_y = Signal(wide), Signal(wide), Signal(wide)
        corner, row_start, y_tap, x_tap = (Signal(wide) for _ in range(4))
        count = Signal(max(8, fields.size))
        out_word = Signal(self.memory.address.shape())
        last_tap = (ky == held.kernel_h - 1) & (kx == held.kernel_w - 1)
        last_word = word == (in_c >> shift) - 1
        last_pixel = (oy == out_h - 1) & (ox == out_w - 1)
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

        word_in = Signal(data.ArrayLayout(n, lanes))  # AVGPOOL, ADD: the word being folded
        m.submodules.decoder = decoder = Decoder(family=family, form="int")
        operand_fmt = data.View(held.a_fmt.shape(), Mux(second, held.b_fmt, held.a_fmt))
        drive_member(m, decoder, family, operand_fmt, scale=False)
        m.d.comb += decoder.code.eq(word_in.as_value().word_select(lane, n) if lanes > 1
                                    else word_in[0])
        value = decoder.operand.value
        aligned = value << Mux(op == Op.ADD,
                               Mux(second, exponent_b - finer, exponent_a - finer), 0)[:7]
        current = (sums.as_value().word_select(lane, self._sum_width) if lanes > 1
                   else sums[0])
        folded = Mux(first_tap & ~second, 0, current) + aligned

        def fold_maximum():
            """The word read in the previous cycle into every lane's maximum."""
            for j in range(lanes):
                code = read_data[j]
                keep = ~first_tap & (ordinal(family, best[j]) >= ordinal(family, code))
                m.d.sync += best[j].eq(Mux(keep, best[j], code))

        def next_tap(then):
            """The window's next tap (READ), or ``then`` after its last."""
            with m.If(~last_tap):
                with m.If(kx == held.kernel_w - 1):
                    m.d.sync += [kx.eq(0), x_tap.eq(0), ky.eq(ky + 1), y_tap.eq(y_tap + row)]
                with m.Else():
                    m.d.sync += [kx.eq(kx + 1), x_tap.eq(x_tap + in_c)]
                m.next = "READ"
            with m.Else():
                m.next = then

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
                with m.If(ox == out_w - 1):
                    m.d.sync += [ox.eq(0), oy.eq(oy + 1), corner.eq(row_start + step_y),
                                 row_start.eq(row_start + step_y)]
                with m.Else():
                    m.d.sync += [ox.eq(ox + 1), corner.eq(corner + step_x)]
                m.next = "WORD"
            with m.Else():
                m.next = "IDLE"

        # An ADD beyond max_align is refused at once; an AVGPOOL's window is counted by
        # repeated addition (a multiplier would take a DSP block) and refused beyond
        # max_window.
        instruction = self.instruction
        a_exponent = family.int_exponent(instruction.a_fmt[0])
        b_exponent = family.int_exponent(instruction.b_fmt[0])
        alignment = Mux(a_exponent > b_exponent, a_exponent - b_exponent,
                        b_exponent - a_exponent)
        misaligned = (instruction.op == Op.ADD) & (alignment > self._max_align)
        taps = Signal(16)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [row.eq(0), step_x.eq(0), step_y.eq(0), count.eq(0), taps.eq(0),
                                 self.error.eq(misaligned)]
                    with m.If(~misaligned):
                        m.next = "WINDOW"
            def check_window():
                with m.If((op == Op.AVGPOOL) & (taps > self._max_window)):
                    m.d.sync += self.error.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.next = "ROW"

            def start_words():
                m.d.sync += [oy.eq(0), ox.eq(0), word.eq(0), corner.eq(held.src),
                             row_start.eq(held.src), out_word.eq(held.dst >> shift),
                             record.eq(self.params.read_data)]
                m.next = "WORD"

            repeat = functools.partial(repeated_addition, m, count=count, busy=self.busy)
            repeat("WINDOW", times=held.kernel_h, updates=[taps.eq(taps + held.kernel_w)],
                   then=check_window)
            repeat("ROW", times=in_w, updates=[row.eq(row + in_c)], then="STEP")
            repeat("STEP", times=held.stride, updates=[step_x.eq(step_x + in_c),
                                                       step_y.eq(step_y + row)],
                   then=start_words)
            with m.State("WORD"):  # an output word starts
                m.d.comb += self.busy.eq(1)
                m.d.sync += [ky.eq(0), kx.eq(0), y_tap.eq(0), x_tap.eq(0), first_tap.eq(1),
                             second.eq(0)]
                m.next = "READ"
            with m.State("READ"):
                m.d.comb += [self.busy.eq(1), self.memory.read.eq(1)]
                m.next = "LAND"
            with m.State("LAND"):  # MAXPOOL folds the whole word; the others a lane a cycle
                m.d.comb += self.busy.eq(1)
                with m.If(op == Op.MAXPOOL):
                    fold_maximum()
                    m.d.sync += first_tap.eq(0)
                    next_tap("WRITE_MAX")
                with m.Else():
                    m.d.sync += [word_in.eq(read_data), lane.eq(0)]
                    m.next = "FOLD"
            with m.State("FOLD"):
                m.d.comb += self.busy.eq(1)
                with m.Switch(lane):
                    for j in range(lanes):
                        with m.Case(j):
                            m.d.sync += sums[j].eq(folded)
                m.d.sync += lane.eq(lane + 1)
                with m.If(lane == lanes - 1):
                    m.d.sync += [first_tap.eq(0), lane.eq(0)]
                    with m.If(op == Op.ADD):
                        m.d.sync += second.eq(1)
                        m.next = "READ"
                        with m.If(second):
                            m.next = "SCALE"
                    with m.Else():
                        next_tap("SCALE")
            with m.State("SCALE"):  # one lane into the scaling stage
                m.d.comb += self.busy.eq(1)
                is_add = op == Op.ADD
                m.d.comb += [stage.acc.eq(sums.as_value().word_select(lane, self._sum_width)
                                          if lanes > 1 else sums[0]),
                             stage.exponent.eq(Mux(is_add, finer, exponent_a)),
                             stage.M.eq(Mux(is_add, 1, record.M)),
                             stage.shift.eq(Mux(is_add, 0, record.shift)),
                             stage.relu.eq(held.flags[0]), valid_in.eq(1)]
                m.next = "WAIT"
            with m.State("WAIT"):  # its code, clipped
                m.d.comb += self.busy.eq(1)
                with m.If(valid_out):
                    code = code_out
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
