"""The accelerator: systolic core, K-tile accumulators, scaling stages and stream interfaces."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden._checks import check_bool, check_choice, check_int
from golden.arith import DEFAULT_LIMITS, ScalingLimits, accumulator_width
from golden.ptq import MX_SPREAD
from . import names
from .formats import hardware_for
from .operand import check_family, check_form
from .dsp import check_dsp_split
from .loader import WeightLoader
from .multiply import MULTIPLIERS
from .runtime import EXPONENT_SHAPE, SCALE_SHAPE, drive_fields, field_shapes
from .scaling import ScalingStage
from .serialiser import ColumnSerialiser
from .systolic import SystolicCore, core_latency

__all__ = ["Accelerator", "AccumulatorBuffer", "KTileAccumulation", "BlockShifter", "MAX_K",
           "MAX_DEPTH", "stream_layouts", "weights_layout", "accumulator_bits",
           "external_scaling_layout"]

MAX_K = 1 << 20
MAX_DEPTH = 4096


def accumulator_bits(family, rows, max_K, limits=DEFAULT_LIMITS, block_shift=0):
    """Width of an :class:`Accelerator`'s accumulators (and of its scaling stages' input):
    ``ceil(max_K / rows)`` K-tiles of ``rows`` products, each shifted left by up to
    ``block_shift`` (block-scaled weights), and the bias never wrap."""
    widest = family.widest()
    return accumulator_width(widest, widest, -(-max_K // rows) * rows,
                             bias_bits=limits.bias_bits) + block_shift


def activation_layout(family, rows):
    return data.StructLayout({
        "codes": data.ArrayLayout(family.n, rows),
        "first": 1, "acc_first": 1, "acc_last": 1,
    })


def config_layout(family, cols, limits):
    fields = {
        "a_scale": SCALE_SHAPE, "w_scale": SCALE_SHAPE, "out_scale": SCALE_SHAPE, "relu": 1,
        "bias": data.ArrayLayout(signed(limits.bias_bits), cols),
        "M": data.ArrayLayout(unsigned(limits.m_bits), cols),
        "shift": data.ArrayLayout(range(limits.shift_max + 1), cols),
    }
    for prefix in ("a_", "w_", "out_"):
        fields.update(field_shapes(family, prefix))
    return data.StructLayout(fields)


def result_layout(family, cols):
    return data.StructLayout({"codes": data.ArrayLayout(family.n, cols), "nar": cols})


def weights_layout(family, cols, block_shift=0):
    """A weight row: ``cols`` codes, and with block-scaled weights (``block_shift > 0``) each
    column's block shift (the same on every row of a tile)."""
    codes = data.ArrayLayout(family.n, cols)
    if not block_shift:
        return codes
    return data.StructLayout({"codes": codes,
                              "shift": data.ArrayLayout(range(block_shift + 1), cols)})


def stream_layouts(family, rows, cols, limits, block_shift=0):
    """The payload layouts of the accelerator's four streams, by stream name."""
    return {"config": config_layout(family, cols, limits),
            "weights": weights_layout(family, cols, block_shift),
            "activations": activation_layout(family, rows),
            "results": result_layout(family, cols)}


def external_scaling_layout(family, limits, width):
    """What another unit hands the shared scaling stage (:class:`Accelerator`'s
    ``external``): ``select`` (the stage is its), ``valid``, an accumulator ``acc`` of
    ``width`` bits with its exponent, ``M``, ``shift``, ``relu`` and the output member."""
    return data.StructLayout({
        "select": 1, "valid": 1, "acc": signed(width), "exponent": EXPONENT_SHAPE,
        "M": unsigned(limits.m_bits), "shift": range(limits.shift_max + 1), "relu": 1,
        "out_scale": SCALE_SHAPE, **field_shapes(family, "out_")})


def _control_layout():
    return data.StructLayout({"valid": 1, "first": 1, "acc_first": 1, "acc_last": 1})


class AccumulatorBuffer(wiring.Component):
    """The K-tile accumulators of every column: ``depth`` entries of ``shape``, one write and
    one read per cycle (a block RAM on an FPGA, an SRAM macro in a chip; a module of its own
    so that area and energy reports can tell it from the logic).

    Members
    -------
    read_addr : In(range(depth)), read_en : In(1), read_data : Out(shape)
        Synchronous read: with ``read_en``, ``read_data`` is the entry at ``read_addr`` one
        cycle later (it holds otherwise); a read of the entry written in the same cycle
        returns the old value.
    write_addr : In(range(depth)), write_data : In(shape), write_en : In(1)
    """

    def __init__(self, *, shape, depth):
        self._shape = shape
        self._depth = check_int("depth", depth, 1, MAX_DEPTH)
        super().__init__({"read_addr": In(range(depth)), "read_en": In(1),
                          "read_data": Out(shape), "write_addr": In(range(depth)),
                          "write_data": In(shape), "write_en": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = Memory(shape=self._shape, depth=self._depth, init=[])
        write = memory.write_port()
        read = memory.read_port()
        m.d.comb += [write.addr.eq(self.write_addr), write.data.eq(self.write_data),
                     write.en.eq(self.write_en), read.addr.eq(self.read_addr),
                     read.en.eq(self.read_en), self.read_data.eq(read.data)]
        return m


class BlockShifter(wiring.Component):
    """A K-tile's partial sum into the accumulator's units: ``psum << shift``, exact.
    Combinational.

    With block-scaled weights (W-MX) every weight of a K-tile's column shares one block
    exponent (the block size is a multiple of the array's rows), ``shift`` above the
    layer's smallest, so the whole partial sum is shifted once as it enters the
    accumulator.

    Members
    -------
    psum : In(signed(psum_width))
    shift : In(range(max_shift + 1))
    shifted : Out(signed(psum_width + max_shift))
    """

    def __init__(self, *, psum_width, max_shift):
        self._max_shift = check_int("max_shift", max_shift, 1, 64)
        check_int("psum_width", psum_width, 1, 1 << 10)
        super().__init__({"psum": In(signed(psum_width)), "shift": In(range(max_shift + 1)),
                          "shifted": Out(signed(psum_width + max_shift))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.shifted.eq(self.psum << self.shift)
        return m


class KTileAccumulation:
    """The K-tile accumulation of an :class:`Accelerator`: each column's partial sums from the
    core, added to the bias (first K-tile) or to the column's entry of an
    :class:`AccumulatorBuffer` (later K-tiles), written back, and on the last K-tile handed on
    as the final totals.

    Not a component of its own: its logic is built into the accelerator's module by
    :meth:`build`, so that the netlist keeps one hierarchy level for it (the energy report
    charges the K-tile adders to the accelerator's own cells, ``top``) while the buffer stays
    a module of its own.

    Parameters
    ----------
    acc_width : int
        Accumulator width in bits (the accelerator's ``acc_width``).
    cols : int
        Array columns: one accumulator per column and buffer entry.
    depth : int
        Buffer entries: the longest pass, in activation vectors.
    hold_idle : bool
        The buffer is read only beside a valid vector, and the final totals' register has no
        reset (see :class:`Accelerator`).

    Notes
    -----
    Timing: the entry of the next vector is read one cycle ahead (while ``following`` is in
    the stage before ``arriving``), so the sum of a vector's partial sums and its entry is
    ready in the cycle it arrives and written back in the next. A read never hits the entry
    written in the same cycle: that would take a pass of one vector followed at once by the
    next, but a new tile's weights take at least ``cols + 1`` cycles to load. ``emit`` rises
    one cycle after a last-K-tile vector arrives, with its totals in ``final``; ``final``
    changes only then, so the scaling stages after it do not switch on partial sums.
    """

    def __init__(self, *, acc_width, cols, depth, hold_idle):
        self._acc_width = check_int("acc_width", acc_width, 1, 1 << 10)
        self._cols = check_int("cols", cols, 1, 64)
        self._depth = check_int("depth", depth, 1, MAX_DEPTH)
        self._hold_idle = check_bool("hold_idle", hold_idle)

    def build(self, m, *, arriving, following, bias, psums, nar, psum_shifts=None,
              max_shift=0):
        """Add the buffer and the accumulation to ``m``.

        ``arriving`` and ``following`` are the control flags (``valid``, ``first``,
        ``acc_first``, ``acc_last``) of the vector whose partial sums ``psums`` (and NaR flags
        ``nar``) leave the core in this cycle, and of the one a stage behind it; ``bias`` the
        per-column biases; ``psum_shifts`` (block-scaled weights) each column's left shift of
        its partial sum, 0 to ``max_shift``, through a :class:`BlockShifter`. Returns ``(entry, final, emit)``:
        the layout of one column's total (``value``, ``nar``), the final totals of every
        column, and their valid flag."""
        cols, depth = self._cols, self._depth
        entry = data.StructLayout({"value": signed(self._acc_width), "nar": 1})
        m.submodules[names.BUFFER] = buffer = AccumulatorBuffer(shape=data.ArrayLayout(entry, cols),
                                                         depth=depth)
        index = Signal(range(depth))
        next_index = Signal(range(depth))
        m.d.comb += index.eq(Mux(arriving.first, 0, next_index))
        index_after = Mux(index == depth - 1, 0, index + 1)
        upcoming = Mux(arriving.valid, index_after, next_index)
        m.d.comb += [buffer.read_addr.eq(Mux(following.valid & following.first, 0, upcoming)),
                     buffer.read_en.eq(following.valid if self._hold_idle else 1)]
        with m.If(arriving.valid):
            m.d.sync += next_index.eq(index_after)

        totals = Signal(data.ArrayLayout(entry, cols))
        for j in range(cols):
            base = Mux(arriving.acc_first, bias[j], buffer.read_data[j].value)
            psum = psums[j]
            if psum_shifts is not None:
                m.submodules[f"block_shifter_{j}"] = shifter = BlockShifter(
                    psum_width=len(psums[j]), max_shift=max_shift)
                m.d.comb += [shifter.psum.eq(psums[j]), shifter.shift.eq(psum_shifts[j])]
                psum = shifter.shifted
            m.d.comb += [
                totals[j].value.eq(base + psum),
                totals[j].nar.eq(Mux(arriving.acc_first, 0, buffer.read_data[j].nar) | nar[j]),
            ]
        m.d.comb += [buffer.write_addr.eq(index), buffer.write_data.eq(totals),
                     buffer.write_en.eq(arriving.valid & ~arriving.acc_last)]
        final = Signal.like(totals, reset_less=self._hold_idle)
        emit = Signal()
        finishing = arriving.valid & arriving.acc_last
        m.d.sync += emit.eq(finishing)
        with m.If(finishing):
            m.d.sync += final.eq(totals)
        return entry, final, emit


class Accelerator(wiring.Component):
    """A ``rows x cols`` weight-stationary array that turns codes into output codes, bit-exact.

    Computes, per output row ``m`` and column ``j`` of a layer,
    ``Q_out(relu?((bias[j] + Σ_k a[m,k] * W[k,j]) * M[j] * 2**(E - shift[j])))``
    exactly as ``golden.arith.matmul`` followed by ``golden.arith.scale``, for any ``K`` up to
    ``max_K``: the host splits K into tiles of ``rows``, N into tiles of ``cols`` and M into
    passes of at most ``depth`` vectors (:mod:`hdl.tiling` does it).

    Parameters
    ----------
    family : golden.family.Family
        Operand and output family; each tensor's member (IS and SC, or F) is a run-time register.
    form : {"int", "ses"}
        Pre-decoded operand form in the PEs: integers (DSP multipliers) or sign, exponent and
        significand (fabric and standard cells; TFX only).
    rows, cols : int
        Array size, 1 to 64 each.
    max_K : int
        Longest dot product supported (1 to 2**20), in ``ceil(max_K / rows)`` K-tiles; sets
        the accumulator width ``accumulator_width(widest, widest, K_tiles * rows, bias_bits)``
        so that no accumulation of that many tiles wraps, whatever the codes (zero-padded or
        not).
    depth : int
        Accumulator buffer entries (1 to 4096): the longest pass, in activation vectors.
    limits : golden.arith.ScalingLimits
        Sizes of the per-column bias, M and shift registers.
    scaling : {"per_column", "shared"}
        One scaling stage per column (a result vector per cycle), or one stage shared by all
        columns, one column per cycle (a result vector per ``cols`` cycles; for small FPGAs).
    dsp_pes : int or None
        PEs (row-major) whose multiplier synthesis may map to a DSP block; the others use
        fabric multipliers. ``None``: every multiplier is inferred (the tool decides).
    scaling_multiplier : {None, "infer", "fabric"}
        The scaling stages' multiply by M (:mod:`hdl.multiply`): ``"infer"`` lets synthesis
        map it to DSP blocks (an FPGA build gives it the DSPs the PEs leave). ``None``:
        ``"infer"`` without ``dsp_pes``, else ``"fabric"``.
    dsp_split : {None, "sb_mac16", "model"}
        Whether DSP PEs share split DSP blocks, two per block (see
        :class:`hdl.systolic.SystolicCore`); ``None``: one inferred multiplier each.
    shared_weight_decoder : bool
        One weight decoder for all columns (``shared_weight_decoder`` of
        :class:`hdl.systolic.SystolicCore`): a weight row takes ``cols`` cycles to load, for
        builds whose weights arrive slower than that (a UART).
    pipelined : bool
        More registers for fast FPGA clocks: scaling stages cut into more cycles (see
        :class:`hdl.scaling.ScalingStage`; latency 3 cycles longer) and the core's weight load
        path registered after the decoders (``registered_load`` of
        :class:`hdl.systolic.SystolicCore`; the loader's timing already allows it).
    mx_block : int or None
        Block-scaled weights (W-MX, :mod:`golden.mx`): the block size along K, a multiple of
        ``rows`` so that every K-tile lies inside one block; each weight row then carries its
        columns' block shifts (0 to ``mx_spread``), and each column's partial sum of a K-tile
        is shifted by its tile's one as it enters the accumulator (:class:`BlockShifter`; the
        accumulators are ``mx_spread`` bits wider). ``None``: no block scaling.
    mx_spread : int
        With ``mx_block``: the largest block shift, 1 to :data:`golden.ptq.MX_SPREAD` (the
        default); a network quantized with a larger spread is refused.
    external_scaling : int
        With ``scaling="shared"``: the width of accumulators that another unit may have the
        shared stage round (the ``external`` members; the stage takes the wider of the two);
        0: none.
    hold_idle : bool
        Data registers have no reset, load only when they take data and hold otherwise
        (``hold_idle`` of :class:`hdl.systolic.SystolicCore` and
        :class:`hdl.scaling.ScalingStage`, and the buffer's read enable): a standard-cell
        mapping gives them gated clocks. ``False`` (the FPGA builds): they keep their reset
        and load on every cycle, which costs an FPGA nothing and spares its packing and its
        global buffers.

    Members
    -------
    config : In(stream.Signature(config_layout))
        Per-layer formats (IS and scale of activations, weights and outputs), ReLU, and
        per-column bias (accumulator units), M and shift. Accepted once every vector in flight
        has left the scaling stages; while it waits, no weights or activations are accepted, so
        everything after it uses it. Weights are decoded with the ``w_IS`` in force when they
        are loaded.
    weights : In(stream.Signature(weights_layout))
        Weight tiles, ``rows`` transfers each (row 0 first), into the double-buffered shadow
        registers; a tile is accepted while the previous one computes, as soon as each PE row
        has swapped to it. With ``mx_block`` each row is ``codes`` and ``shift`` (the tile's
        block shift per column, taken from its last row).
    activations : In(stream.Signature(activation_layout))
        One K-slice of ``rows`` codes per transfer. ``first`` starts a pass with the next
        loaded weight tile (not accepted until that tile is loaded); a pass is at most ``depth``
        vectors, and its ``i``-th vector adds into accumulator ``i``. ``acc_first``: the
        accumulator starts from the bias (first K-tile). ``acc_last``: it is final, scale it
        and emit a result (last K-tile). Both flags are constant over a pass.
    results : Out(stream.Signature(result_layout))
        One vector of ``cols`` output codes and NaR flags per ``acc_last`` activation, in order.
        Back-pressure stops the activations before anything is lost.
    idle : Out(1)
        No vector in flight (results may still wait in the output FIFO).
    external : In(external_scaling_layout), external_code : Out(n), external_valid : Out(1)
        With ``external_scaling``: while ``external.select`` (and no vector in flight), the
        shared scaling stage rounds ``external``'s accumulators instead (``valid`` in,
        ``external_valid`` with the code out, the stage's latency later).

    Notes
    -----
    Latency ``rows + cols + 5`` cycles from accepting an ``acc_last`` activation to its result
    entering the output FIFO (core ``rows + cols``, accumulate 1, scale 4; ``+ 8`` and scale 7
    with ``pipelined``) and 2 more to
    ``results.valid``. One activation per cycle in steady state, so every PE does one MAC per
    cycle; passes follow each other without a bubble when they are at least ``rows + cols``
    vectors long (the next tile's weights load behind the swap wavefront).
    """

    def __init__(self, *, family, form="int", rows, cols, max_K, depth=64,
                 limits=DEFAULT_LIMITS, scaling="per_column", dsp_pes=None, dsp_split=None,
                 scaling_multiplier=None, shared_weight_decoder=False, pipelined=False,
                 hold_idle=True, external_scaling=0, mx_block=None, mx_spread=MX_SPREAD):
        self._family = check_family(family)
        hardware_for(family)  # decoders and encoder
        self._form = check_form(family, form)
        self._rows = check_int("rows", rows, 1, 64)
        self._cols = check_int("cols", cols, 1, 64)
        self._max_K = check_int("max_K", max_K, 1, MAX_K)
        self._depth = check_int("depth", depth, 1, MAX_DEPTH)
        if not isinstance(limits, ScalingLimits):
            raise TypeError(f"limits must be a golden.arith.ScalingLimits, not {limits!r}")
        self._limits = limits
        self._scaling = check_choice("scaling", scaling, ("per_column", "shared"))
        self._dsp_pes = None if dsp_pes is None else check_int("dsp_pes", dsp_pes, 0, rows * cols)
        self._dsp_split = check_dsp_split(family, form, dsp_split)
        self._scaling_multiplier = ("infer" if dsp_pes is None else "fabric") \
            if scaling_multiplier is None else \
            check_choice("scaling_multiplier", scaling_multiplier, MULTIPLIERS)
        self._shared_decoder = check_bool("shared_weight_decoder", shared_weight_decoder)
        self._pipelined = check_bool("pipelined", pipelined)
        self._hold_idle = check_bool("hold_idle", hold_idle)
        self._scaling_latency = (ScalingStage.PIPELINED_LATENCY if pipelined
                                 else ScalingStage.LATENCY)
        self._mx_block = None if mx_block is None else check_int("mx_block", mx_block, 1,
                                                                  MAX_K)
        if mx_block is not None and mx_block % rows:
            raise ValueError(f"mx_block must be a multiple of the array's rows ({rows}), not "
                             f"{mx_block}: every K-tile of {rows} rows must lie inside one "
                             f"block")
        mx_spread = check_int("mx_spread", mx_spread, 1, MX_SPREAD)
        self._block_shift = 0 if mx_block is None else mx_spread
        self._acc_width = accumulator_bits(family, rows, max_K, limits, self._block_shift)
        self._external = check_int("external_scaling", external_scaling, 0, 128)
        if self._external and scaling != "shared":
            raise ValueError("external_scaling needs scaling=\"shared\" (one stage to share), "
                             f"not scaling={scaling!r}")
        self._fifo_depth = core_latency(rows, cols) + 1 + self._scaling_latency + 4
        layouts = stream_layouts(family, rows, cols, limits, self._block_shift)
        super().__init__({
            **{name: In(stream.Signature(layouts[name]))
               for name in ("config", "weights", "activations")},
            "results": Out(stream.Signature(layouts["results"])),
            "idle": Out(1),
            **({} if not external_scaling else {
                "external": In(external_scaling_layout(family, limits, external_scaling)),
                "external_code": Out(family.n), "external_valid": Out(1)}),
        })

    family = property(lambda self: self._family)
    form = property(lambda self: self._form)
    rows = property(lambda self: self._rows)
    cols = property(lambda self: self._cols)
    max_K = property(lambda self: self._max_K)
    depth = property(lambda self: self._depth)
    limits = property(lambda self: self._limits)
    acc_width = property(lambda self: self._acc_width)
    mx_block = property(lambda self: self._mx_block)
    block_shift = property(lambda self: self._block_shift)

    @property
    def max_k_tiles(self):
        """K-tiles (passes) one accumulation may have: ``ceil(max_K / rows)``."""
        return -(-self._max_K // self._rows)

    @property
    def latency(self):
        """Cycles from accepting an ``acc_last`` activation to its result entering the FIFO."""
        return core_latency(self._rows, self._cols) + 1 + self._scaling_latency

    @property
    def longest_wait(self):
        """An upper bound of the cycles an input can wait, while no result waits at
        ``results``, for something already in the array (a config for the vectors in
        flight, a weight row for the swap wavefront, an ``acc_last`` vector for a FIFO
        credit): the oldest vector in flight reaches the FIFO within ``latency`` plus, in
        shared scaling, one column pass, and the FIFO presents it 2 cycles later; a weight
        row waits at most ``rows + cols`` cycles for its PE row to swap. A longer wait can
        only be for an input that never came."""
        return (self.latency + self._cols + 2 + self._rows + self._cols + 8
                + (self._cols if self._shared_decoder else 0))

    def _add_results_path(self, m, config, exponent, entry, final, emit):
        """The scaling stages (per column, or one shared behind a :class:`ColumnSerialiser`)
        after the final totals, and the output FIFO into ``results``; returns the flag of a
        result vector entering the FIFO."""
        family, cols, limits = self._family, self._cols, self._limits
        m.submodules[names.RESULTS_FIFO] = fifo = SyncFIFOBuffered(
            width=result_layout(family, cols).size, depth=self._fifo_depth)
        multiplier = self._scaling_multiplier

        def scaling_stage(name):
            stage = ScalingStage(acc_width=max(self._acc_width, self._external),
                                 out_family=family, limits=limits,
                                 multiplier=multiplier, pipelined=self._pipelined,
                                 hold_idle=self._hold_idle)
            m.submodules[name] = stage
            m.d.comb += [stage.exponent.eq(exponent), stage.relu.eq(config.relu),
                         stage.out_scale.eq(config.out_scale)]
            drive_fields(m, stage, config, family, "out_")
            return stage

        if self._scaling == "per_column":
            result = Signal(result_layout(family, cols))
            produced = Signal()
            for j in range(cols):
                stage = scaling_stage(names.scaling_name(j))
                m.d.comb += [
                    stage.valid_in.eq(emit), stage.acc.eq(final[j].value),
                    stage.nar_in.eq(final[j].nar), stage.M.eq(config.M[j]),
                    stage.shift.eq(config.shift[j]),
                    result.codes[j].eq(stage.code), result.nar[j].eq(stage.nar),
                ]
            m.d.comb += produced.eq(stage.valid_out)
        else:
            # One stage, one column per cycle: final vectors wait in a queue (never more than
            # the results the credit counter allows), codes are gathered into a result vector.
            m.submodules.serialiser = serialiser = ColumnSerialiser(
                entry=entry, cols=cols, depth=self._fifo_depth,
                result=result_layout(family, cols))
            m.d.comb += [serialiser.totals.eq(final), serialiser.emit.eq(emit)]
            stage = scaling_stage(names.scaling_name())
            column = serialiser.column
            m.d.comb += [stage.valid_in.eq(serialiser.valid), stage.acc.eq(serialiser.acc),
                         stage.nar_in.eq(serialiser.nar), stage.M.eq(config.M[column]),
                         stage.shift.eq(config.shift[column]),
                         serialiser.code.eq(stage.code), serialiser.code_nar.eq(stage.nar),
                         serialiser.code_valid.eq(stage.valid_out)]
            if self._external:
                self._share_stage(m, stage, serialiser)
            result, produced = serialiser.result, serialiser.produced
        m.d.comb += [
            fifo.w_stream.payload.eq(result), fifo.w_stream.valid.eq(produced),
            self.results.payload.eq(fifo.r_stream.payload),
            self.results.valid.eq(fifo.r_stream.valid),
            fifo.r_stream.ready.eq(self.results.ready),
        ]
        return produced

    def _share_stage(self, m, stage, serialiser):
        """While ``external.select``, the stage rounds the external accumulators, and its
        codes go out on ``external_code`` instead of into the serialiser."""
        external = self.external
        with m.If(external.select):
            m.d.comb += [stage.valid_in.eq(external.valid), stage.acc.eq(external.acc),
                         stage.nar_in.eq(0), stage.exponent.eq(external.exponent),
                         stage.M.eq(external.M), stage.shift.eq(external.shift),
                         stage.relu.eq(external.relu), stage.out_scale.eq(external.out_scale),
                         serialiser.code_valid.eq(0)]
            drive_fields(m, stage, external, self._family, "out_")
        m.d.comb += [self.external_code.eq(stage.code),
                     self.external_valid.eq(stage.valid_out & external.select)]

    def elaborate(self, platform):
        m = Module()
        family, rows, cols, limits = self._family, self._rows, self._cols, self._limits
        m.submodules[names.CORE] = core = SystolicCore(family=family, form=self._form, rows=rows,
                                                cols=cols, dsp_pes=self._dsp_pes,
                                                dsp_split=self._dsp_split,
                                                registered_load=self._pipelined,
                                                shared_weight_decoder=self._shared_decoder,
                                                hold_idle=self._hold_idle)

        m.submodules.weight_loader = loader = WeightLoader(family=family, rows=rows, cols=cols,
                                                           serial=self._shared_decoder)

        # Run-time registers of the layer.
        config = Signal(config_layout(family, cols, limits))
        exponent = Signal(EXPONENT_SHAPE)
        # Accepted vectors not yet retired: in the core, or results not yet in the FIFO.
        pending = Signal(range(self.latency + self._fifo_depth + cols + 4))
        # With one shared weight decoder, a part-written weight row finishes with the formats
        # it started with.
        config_ready = (pending == 0) & ~loader.mid_row if self._shared_decoder else pending == 0
        config_taken = self.config.valid & config_ready
        m.d.comb += [self.config.ready.eq(config_ready), self.idle.eq(pending == 0)]
        with m.If(config_taken):
            payload = self.config.payload
            m.d.sync += [config.eq(payload),
                         exponent.eq(family.accumulator_exponent(payload.a_scale,
                                                                 payload.w_scale))]
        drive_fields(m, core, config, family, "a_", "w_")

        # Weight loading: one tile waits in the shadow registers, loaded behind the swap.
        if not self._block_shift:
            wiring.connect(m, wiring.flipped(self.weights), loader.weights)
        else:
            # Each tile's block shifts wait in a queue, taken with its last row, until its
            # first vector leaves the core (at most two tiles: the one computing and the one
            # loaded behind it).
            m.submodules.block_shifts = shifts = SyncFIFO(
                width=len(self.weights.payload.shift.as_value()), depth=4)
            last_row = loader.weights.valid & loader.weights.ready & (loader.w_row == rows - 1)
            m.d.comb += [
                loader.weights.payload.eq(self.weights.payload.codes),
                loader.weights.valid.eq(self.weights.valid & shifts.w_rdy),
                self.weights.ready.eq(loader.weights.ready & shifts.w_rdy),
                shifts.w_data.eq(self.weights.payload.shift.as_value()), shifts.w_en.eq(last_row),
            ]
        m.d.comb += [loader.hold.eq(self.config.valid), core.w_codes.eq(loader.w_codes),
                     core.w_row.eq(loader.w_row), core.w_load.eq(loader.w_load)]
        if self._shared_decoder:
            m.d.comb += core.w_col.eq(loader.w_col)

        # Activations: a result is only started when the output FIFO is sure to take it.
        outstanding = Signal(range(self._fifo_depth + 1))  # acc_last vectors not yet read out
        vector = self.activations.payload
        m.d.comb += self.activations.ready.eq(
            ~self.config.valid & (loader.full | ~vector.first)
            & ((outstanding < self._fifo_depth) | ~vector.acc_last))
        accepted = self.activations.valid & self.activations.ready
        m.d.comb += [core.a_codes.eq(vector.codes), core.a_valid.eq(accepted),
                     core.a_first.eq(accepted & vector.first)]
        m.d.comb += loader.swap.eq(accepted & vector.first)

        # The flags travel beside the core; stage L is aligned with its partial sums.
        control = [Signal(_control_layout(), name="control_in")]
        m.d.comb += [control[0].valid.eq(accepted), control[0].first.eq(vector.first),
                     control[0].acc_first.eq(vector.acc_first),
                     control[0].acc_last.eq(vector.acc_last)]
        for stage in range(core.latency):
            delayed = Signal(_control_layout(), name=f"control_d{stage + 1}")
            m.d.sync += delayed.eq(control[-1])
            control.append(delayed)
        arriving, following = control[core.latency], control[core.latency - 1]

        psum_shifts = None
        if self._block_shift:
            # The tile's shifts: the queue's head as its first vector arrives, held after.
            layout = data.ArrayLayout(range(self._block_shift + 1), cols)
            held = Signal(layout)
            psum_shifts = Signal(layout)
            head = shifts.r_data
            m.d.comb += [psum_shifts.eq(Mux(arriving.valid & arriving.first, head, held)),
                         shifts.r_en.eq(arriving.valid & arriving.first)]
            m.d.sync += held.eq(psum_shifts)
        accumulation = KTileAccumulation(acc_width=self._acc_width, cols=cols, depth=self._depth,
                                         hold_idle=self._hold_idle)
        entry, final, emit = accumulation.build(m, arriving=arriving, following=following,
                                                bias=config.bias, psums=core.psums,
                                                nar=core.nar, psum_shifts=psum_shifts,
                                                max_shift=self._block_shift)

        produced = self._add_results_path(m, config, exponent, entry, final, emit)

        delivered = self.results.valid & self.results.ready
        started = accepted & vector.acc_last
        m.d.sync += outstanding.eq(outstanding + started - delivered)
        absorbed = arriving.valid & ~arriving.acc_last  # added into the buffer, nothing to emit
        m.d.sync += pending.eq(pending + accepted - absorbed - produced)
        return m
