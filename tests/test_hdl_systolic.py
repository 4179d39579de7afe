# amaranth: UnusedElaboratable=no
# (the invalid-argument tests leave half-built components behind)
"""The weight-stationary systolic core against the golden model (Amaranth simulator)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.arith import matmul
from golden.family import FXPFamily, TFXFamily
from golden.arith import accumulator_width
from hdl.accelerator import Accelerator
from hdl.pe import ProcessingElement
from hdl.systolic import SystolicCore, partial_sum_width

pytestmark = pytest.mark.sim


def run_tiles(core, tiles, a_fmt, w_fmt):
    """Stream every tile's activation vectors back to back, the first marked ``a_first``; load
    the next tile's weights into the shadow registers meanwhile, as early as the contract allows
    (row r at step r + cols + 1; with a shared weight decoder, one column per step from step
    cols + 1 on, row r's first at cols + 1 + r * cols). Returns the psum rows and their NaR
    flags."""
    family = core._family
    rows, cols = core._rows, core._cols
    shared = core._shared_decoder
    # The writes of one tile, one per step: (row, column), column None for a whole row.
    writes = [(r, c) for r in range(rows) for c in range(cols)] if shared else \
        [(r, None) for r in range(rows)]
    out = []

    async def bench(ctx):
        if family.kind == "tfx":
            ctx.set(core.a_IS, a_fmt.IS)
            ctx.set(core.w_IS, w_fmt.IS)

        def collect():
            if ctx.get(core.psum_valid):
                out.append(([ctx.get(core.psums[j]) for j in range(cols)],
                             [(ctx.get(core.nar) >> j) & 1 for j in range(cols)]))

        def load(weights, write):
            r, c = write
            ctx.set(core.w_codes, [int(code) for code in weights[r]])
            ctx.set(core.w_row, r)
            if c is not None:
                ctx.set(core.w_col, c)
            ctx.set(core.w_load, 1)

        for write in writes:
            load(tiles[0][1], write)
            await ctx.tick()
        ctx.set(core.w_load, 0)
        for index, (activations, _) in enumerate(tiles):
            following = tiles[index + 1][1] if index + 1 < len(tiles) else None
            steps = len(activations) if following is None else \
                max(len(activations), len(writes) + cols + 1)
            for step in range(steps):
                streaming = step < len(activations)
                ctx.set(core.a_valid, streaming)
                ctx.set(core.a_first, step == 0)
                if streaming:
                    ctx.set(core.a_codes, [int(c) for c in activations[step]])
                k = step - cols - 1
                if following is not None and 0 <= k < len(writes):
                    load(following, writes[k])
                else:
                    ctx.set(core.w_load, 0)
                await ctx.tick()
                collect()
        ctx.set(core.a_valid, 0)
        ctx.set(core.w_load, 0)
        for _ in range(core.latency + 2):
            await ctx.tick()
            collect()

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


# The split-DSP cases share DSP halves between PEs of one row, of two rows (odd cols) and
# leave one half unused (odd dsp_pes), with fabric PEs after them. The registered load path
# (the fast FPGA builds') runs with the tightest load timing its contract allows; 1x1 has no
# skew to spare. The shared weight decoder loads one column per cycle, with and without the
# registered load path.
@pytest.mark.parametrize("family,form,rows,cols,dsp_pes,dsp_split,registered,shared", [
    (TFXFamily(8, 3), "int", 3, 4, None, None, False, False),
    (TFXFamily(8, 3), "ses", 4, 2, None, None, False, False),
    (TFXFamily(6, 5), "ses", 2, 3, None, None, False, False),
    (FXPFamily(8), "int", 3, 3, None, None, False, False),
    (TFXFamily(5, 2), "int", 1, 1, None, None, False, False),
    (TFXFamily(8, 3), "ses", 3, 3, 7, "model", False, False),
    (FXPFamily(8), "int", 3, 3, 7, "model", False, False),
    (FXPFamily(4), "int", 2, 2, None, "model", False, False),
    (TFXFamily(8, 3), "ses", 3, 3, 7, "model", True, False),
    (FXPFamily(8), "int", 4, 4, None, "model", True, False),
    (TFXFamily(5, 2), "int", 1, 1, None, None, True, False),
    (TFXFamily(8, 3), "ses", 3, 3, 7, "model", True, True),
    (FXPFamily(8), "int", 2, 3, None, None, False, True),
    (TFXFamily(5, 2), "int", 1, 1, None, None, True, True),
], ids=str)
def test_core_matches_golden(family, form, rows, cols, dsp_pes, dsp_split, registered, shared):
    check_core(family, form, rows, cols, dsp_pes=dsp_pes, dsp_split=dsp_split,
               registered_load=registered, shared_weight_decoder=shared)


# The FPGA builds' data registers load on every cycle, whatever comes.
@pytest.mark.parametrize("family,form,rows,cols,dsp_split", [
    (TFXFamily(8, 3), "ses", 3, 3, "model"), (FXPFamily(8), "int", 3, 4, None),
    (TFXFamily(5, 2), "int", 1, 1, None)], ids=str)
def test_core_without_hold_idle_matches_golden(family, form, rows, cols, dsp_split):
    check_core(family, form, rows, cols, dsp_split=dsp_split, registered_load=True,
               hold_idle=False)


def check_core(family, form, rows, cols, **options):
    rng = np.random.default_rng(rows * 10 + cols)
    core = SystolicCore(family=family, form=form, rows=rows, cols=cols, **options)
    a_fmt, w_fmt = family.members()[-1], family.members()[0]
    tiles = []
    for length in (9, 1, 7):  # the first tile is long enough to run back to back into the next
        a = rng.integers(0, 1 << family.n, (length, rows))
        w = rng.integers(0, 1 << family.n, (rows, cols))
        if family.kind == "tfx":
            w[w == 1 << (family.n - 1)] = 0
            a[0, 0] = 1 << (family.n - 1)  # one NaR activation per tile
        tiles.append((a, w))
    out = run_tiles(core, tiles, a_fmt, w_fmt)
    expected = []
    for a, w in tiles:
        golden = matmul(a, a_fmt, w, w_fmt, nar="flag")
        expected += [(row.tolist(), flags.astype(int).tolist())
                     for row, flags in zip(golden.values, golden.nar, strict=True)]
    assert out == expected


def test_core_partial_sums_never_wrap():
    family = TFXFamily(8, 3)
    rows = 4
    core = SystolicCore(family=family, rows=rows, cols=2)
    maxpos, maxneg = 0x7F, 0x81
    a = np.array([[maxpos] * rows, [maxneg] * rows])
    w = np.array([[maxpos, maxneg]] * rows)
    fmt = family.widest()
    out = run_tiles(core, [(a, w)], fmt, fmt)
    top = rows * fmt.max_int ** 2
    assert [row for row, _ in out] == [[top, -top], [-top, top]]
    assert core.psum_width == partial_sum_width(family, rows) == (top.bit_length() + 1)


@pytest.mark.parametrize("make,error,message", [
    (lambda: SystolicCore(family=TFXFamily(8, 3), rows=0, cols=2), ValueError,
     "rows must be an integer from 1 to 64, not 0"),
    (lambda: SystolicCore(family=TFXFamily(8, 3), rows=2, cols=65), ValueError,
     "cols must be an integer from 1 to 64, not 65"),
    (lambda: SystolicCore(family=FXPFamily(8), form="float", rows=2, cols=2), ValueError,
     "form must be one of 'int', 'ses', not 'float'"),
    (lambda: ProcessingElement(family=FXPFamily(8), psum_width=1), ValueError,
     "psum_width must be an integer from 2 to 128, not 1"),
    (lambda: SystolicCore(family=TFXFamily(8, 3), rows=2, cols=2, dsp_split="model"),
     ValueError, "a split DSP multiplies factors of at most 8 bits; TFX8/IS<=3 in form 'int' "
                 "has 11-bit factors; use form 'ses'"),
    (lambda: SystolicCore(family=FXPFamily(9), rows=2, cols=2, dsp_split="sb_mac16"),
     ValueError, "FXP9 in form 'int' has 9-bit factors; use form 'ses'$"),
    (lambda: SystolicCore(family=FXPFamily(8), rows=2, cols=2, dsp_split="half"),
     ValueError, "dsp_split must be one of"),
    (lambda: SystolicCore(family=FXPFamily(8), rows=2, cols=2, hold_idle="no"),
     TypeError, "hold_idle must be"),
    (lambda: ProcessingElement(family=FXPFamily(8), psum_width=9, hold_idle=2),
     TypeError, "hold_idle must be"),
])
def test_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("make,error,message", [
    (lambda: Accelerator(family=TFXFamily(8, 3), rows=2, cols=2, max_K=0), ValueError,
     r"max_K must be an integer from 1 to 1048576, not 0"),
    (lambda: Accelerator(family=TFXFamily(8, 3), rows=2, cols=2, max_K=8, depth=5000),
     ValueError, "depth must be an integer from 1 to 4096, not 5000"),
    (lambda: Accelerator(family=FXPFamily(8), rows=2, cols=2, max_K=8, limits=(24, 8, 15)),
     TypeError, "limits must be a golden.arith.ScalingLimits"),
    (lambda: Accelerator(family="tfx:8,3", rows=2, cols=2, max_K=8), TypeError,
     "family must be a golden.family.Family"),
    (lambda: Accelerator(family=FXPFamily(8), rows=2, cols=2, max_K=8,
                         scaling_multiplier="dsp"), ValueError,
     "scaling_multiplier must be one of"),
])
def test_accelerator_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_accelerator_sizes():
    family = TFXFamily(8, 3)
    array = Accelerator(family=family, form="ses", rows=4, cols=4, max_K=64)
    assert array.acc_width == accumulator_width(family.widest(), family.widest(), 64)
    assert array.latency == 4 + 4 + 1 + 4


@pytest.mark.parametrize("rows,cols,pipelined", [(2, 2, False), (3, 4, False), (3, 4, True)])
def test_accelerator_latency(rows, cols, pipelined):
    """The documented latency: ``results.valid`` rises ``latency + 2`` cycles after the edge
    that accepts a pass's only activation (FIFO write and its output register)."""
    array = Accelerator(family=FXPFamily(8), rows=rows, cols=cols, max_K=8, depth=4,
                        pipelined=pipelined)
    cycles = []

    async def bench(ctx):
        ctx.set(array.results.ready, 1)
        ctx.set(array.config.valid, 1)
        ctx.set(array.config.payload.M, [1] * cols)
        await ctx.tick()
        ctx.set(array.config.valid, 0)
        ctx.set(array.weights.valid, 1)
        for _ in range(rows):
            assert ctx.get(array.weights.ready)
            await ctx.tick()
        ctx.set(array.weights.valid, 0)
        ctx.set(array.activations.valid, 1)
        for flag in ("first", "acc_first", "acc_last"):
            ctx.set(getattr(array.activations.payload, flag), 1)
        assert ctx.get(array.activations.ready)
        await ctx.tick()
        ctx.set(array.activations.valid, 0)
        count = 1
        while not ctx.get(array.results.valid):
            assert count < 100
            await ctx.tick()
            count += 1
        cycles.append(count)

    sim = Simulator(array)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert cycles == [array.latency + 2] and array.latency == rows + cols + (8 if pipelined else 5)


@pytest.mark.parametrize("shared", [False, True])
def test_a_config_waits_for_a_part_written_weight_row(shared):
    """With one shared weight decoder a row takes ``cols`` cycles; a config arriving in the
    middle is taken only after the row, so that the whole row is decoded with the formats it
    started with. With a decoder per column the row goes in at once and nothing waits."""
    cols = 3
    array = Accelerator(family=TFXFamily(8, 3), form="ses", rows=2, cols=cols, max_K=8,
                        depth=4, shared_weight_decoder=shared)
    ready, taken = [], []

    async def bench(ctx):
        ctx.set(array.weights.valid, 1)  # row 0 of a tile: its first column goes in now
        await ctx.tick()
        ctx.set(array.config.valid, 1)
        for _ in range(cols):
            ready.append(ctx.get(array.config.ready))
            taken.append(ctx.get(array.weights.ready))
            await ctx.tick()
            if taken[-1]:
                ctx.set(array.weights.valid, 0)  # one row only

    sim = Simulator(array)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert ready == ([0, 0, 1] if shared else [1, 1, 1])
    # the row is taken with its last column, and no later row starts while the config waits
    assert taken == ([0, 1, 0] if shared else [0, 0, 0])
