# amaranth: UnusedElaboratable=no
# (the invalid-argument tests leave half-built components behind)
"""Amaranth-simulator tests of the host link's parts and the accelerator's weight loader and
column serialiser, each against a Python model of its contract."""

import random

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.lib import data
from amaranth.sim import Simulator

from golden.arith import ScalingLimits
from golden.family import FXPFamily, TFXFamily
from hdl.accelerator import KTileAccumulation, stream_layouts
from hdl.hostlink import FrameExecutor, FrameReceiver, ReplyFramer
from hdl.loader import WeightLoader
from hdl.protocol import (DEVICE_SYNC, HOST_SYNC, BuildInfo, Command, Error, FrameDecoder, Reply,
                          encode_frame, item_bytes)
from hdl.serialiser import ColumnSerialiser
from hdl.tiling import pack_payload
from hypothesis import given, settings, strategies as st

pytestmark = pytest.mark.sim


def simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


# FrameReceiver -------------------------------------------------------------------------------

def receive(frames, *, max_payload=32, timeout=12, sizes=(3, 5), gap=2, busy_until=0):
    """Feed the bytes of ``frames`` (each a bytes object, or an int: that many idle cycles)
    and return what the receiver did: [("execute", kind, seq, length, divisible, payload) or
    ("error", code, command, seq)]."""
    dut = FrameReceiver(max_payload=max_payload, timeout=timeout, item_sizes=sizes)
    events = []

    async def bench(ctx):
        memory, cycle = {}, 0

        async def step():
            nonlocal cycle
            ctx.set(dut.busy, cycle < busy_until)
            if ctx.get(dut.write_en):
                memory[ctx.get(dut.write_addr)] = ctx.get(dut.write_data)
            if ctx.get(dut.execute):
                length = ctx.get(dut.length)
                events.append(("execute", ctx.get(dut.kind), ctx.get(dut.seq), length,
                               ctx.get(dut.divisible),
                               bytes(memory.get(i, 0) for i in range(min(length, max_payload)))))
            if ctx.get(dut.reply.valid):
                assert ctx.get(dut.reply.kind) == Reply.ERROR
                events.append(("error", ctx.get(dut.reply.code), ctx.get(dut.reply.command),
                               ctx.get(dut.reply.seq)))
            await ctx.tick()
            cycle += 1

        for frame in frames:
            if isinstance(frame, int):
                for _ in range(frame):
                    await step()
                continue
            for byte in frame:
                ctx.set(dut.data.valid, 1)
                ctx.set(dut.data.payload, byte)
                await step()
                ctx.set(dut.data.valid, 0)
                for _ in range(gap):
                    await step()
        for _ in range(timeout + 4):
            await step()

    simulate(dut, bench)
    return events


def test_receiver_accepts_a_good_frame_and_counts_divisibility():
    payload = bytes(range(15))
    events = receive([encode_frame(HOST_SYNC, 0x33, payload, seq=9),
                      encode_frame(HOST_SYNC, 0x01, seq=200)])
    assert events == [("execute", 0x33, 9, 15, 0b11, payload),
                      ("execute", 0x01, 200, 0, 0b11, b"")]
    events = receive([encode_frame(HOST_SYNC, 0x04, bytes(6))])
    assert events[0][4] == 0b01  # 6 is a multiple of 3, not of 5


@pytest.mark.parametrize("byte", [1, 2, 3, 5, 7, 8, 9])
def test_receiver_refuses_a_crc_error_in_any_byte(byte):
    """A bit flipped in KIND, SEQ, LEN, the payload or either CRC byte."""
    frame = bytearray(encode_frame(HOST_SYNC, 0x03, b"\x01\x02\x03", seq=7))
    frame[byte] ^= 0x01
    events = receive([bytes(frame)])
    assert len(events) == 1 and events[0][0] == "error" and events[0][1] == Error.CHECKSUM


def test_receiver_drops_bad_frames_with_the_right_error():
    bad_crc = bytearray(encode_frame(HOST_SYNC, 0x03, b"\x01\x02\x03", seq=4))
    bad_crc[-1] ^= 0x10
    too_long = encode_frame(HOST_SYNC, 0x04, bytes(range(40)), seq=5)
    truncated = encode_frame(HOST_SYNC, 0x02, b"\x01\x02\x03", seq=6)[:-2]
    events = receive([bytes(bad_crc), too_long, truncated, 30, encode_frame(HOST_SYNC, 7)])
    assert events == [("error", Error.CHECKSUM, 0x03, 4), ("error", Error.TOO_LONG, 0x04, 5),
                      ("error", Error.TRUNCATED, 0x02, 6), ("execute", 7, 0, 0, 0b11, b"")]


def test_receiver_refuses_a_long_length_at_once_and_finds_the_next_frame():
    # A noise SYNC with LEN 0x0FFF: refused when LEN is in, so the frame after it is received.
    frame = encode_frame(HOST_SYNC, 0x05, seq=3)
    events = receive([bytes([HOST_SYNC, 0x02, 0x09, 0xFF, 0x0F]), 3, frame])
    assert events == [("error", Error.TOO_LONG, 0x02, 0x09), ("execute", 0x05, 3, 0, 0b11, b"")]


def test_receiver_ignores_frames_while_busy_and_noise_before_sync():
    frame = encode_frame(HOST_SYNC, 0x05)
    events = receive([frame, b"\x00\x11\x22" + frame], busy_until=12)
    assert events == [("execute", 0x05, 0, 0, 0b11, b"")]


# FrameExecutor -------------------------------------------------------------------------------

FAMILY, ROWS, COLS = TFXFamily(6, 2), 2, 2
LIMITS = ScalingLimits(bias_bits=12, m_bits=4, shift_max=7)
DEPTH, MAX_TILES = 3, 3
LAYOUTS = stream_layouts(FAMILY, ROWS, COLS, LIMITS)
SIZES = {name: item_bytes(LAYOUTS[name].size) for name in ("config", "weights", "activations")}
ITEM_SIZES = tuple(sorted(set(SIZES.values())))


def good_config(**change):
    fields = {"a_IS": 1, "w_IS": 2, "out_IS": 1, "a_scale": 0, "w_scale": -1, "out_scale": 2,
              "relu": 1, "bias": [5, -3], "M": [3, 1], "shift": [0, 7], **change}
    return pack_payload(LAYOUTS["config"], fields).to_bytes(SIZES["config"], "little")


def run_frames(frames, *, ready=1.0, stall_cycles=64, results_waiting=0.0, seed=0):
    """Run ``frames`` (kind, payload, seq) through one executor, each after the previous one's
    reply: per frame its reply (kind, command, code, seq), the array resets, the result-count
    restarts and ``{stream: [payload ints]}``; it must be idle again once its reply is
    taken. ``results_waiting``: how often a result waits at the array's output."""
    dut = FrameExecutor(layouts=LAYOUTS, family=FAMILY, limits=LIMITS, depth=DEPTH,
                        max_k_tiles=MAX_TILES, max_payload=64, item_sizes=ITEM_SIZES,
                        stall_cycles=stall_cycles)
    rng = random.Random(seed)
    outs = []

    async def bench(ctx):
        for kind, payload, seq in frames:
            out = {"reply": None, "resets": 0, "restarts": 0, "idle": False,
                   "items": {name: [] for name in SIZES}}
            outs.append(out)
            length = len(payload)
            ctx.set(dut.kind, kind)
            ctx.set(dut.seq, seq)
            ctx.set(dut.length, length)
            ctx.set(dut.divisible,
                    sum(1 << i for i, s in enumerate(ITEM_SIZES) if length % s == 0))
            ctx.set(dut.execute, 1)
            pending = False  # the host link's reply register; the framer takes it at once
            for _ in range(3000):
                ctx.set(dut.reply_pending, pending)
                ctx.set(dut.reply_taken, pending)
                ctx.set(dut.results_waiting, int(rng.random() < results_waiting))
                address = ctx.get(dut.read_addr)
                for name in SIZES:
                    port = getattr(dut, name)
                    ctx.set(port.ready, int(rng.random() < ready))
                    if ctx.get(port.valid) and ctx.get(port.ready):
                        out["items"][name].append(ctx.get(port.payload.as_value()))
                out["resets"] += ctx.get(dut.array_reset)
                out["restarts"] += ctx.get(dut.results_restart)
                pending = bool(ctx.get(dut.reply.valid))
                if pending:
                    assert out["reply"] is None, "two replies"
                    out["reply"] = (ctx.get(dut.reply.kind), ctx.get(dut.reply.command),
                                    ctx.get(dut.reply.code), ctx.get(dut.reply.seq))
                await ctx.tick()
                ctx.set(dut.execute, 0)
                ctx.set(dut.read_data, payload[address] if address < len(payload) else 0)
                if out["reply"] is not None and not pending and not ctx.get(dut.busy):
                    out["idle"] = True
                    break
            assert out["idle"], "the executor stayed busy after its reply"

    simulate(dut, bench)
    return outs


def execute(kind, payload, *, seq=1, **options):
    """One frame through a fresh executor (see :func:`run_frames`)."""
    return run_frames([(kind, payload, seq)], **options)[0]


def _ints(payload, size):
    return [int.from_bytes(payload[i:i + size], "little") for i in range(0, len(payload), size)]


def vectors(*flags, codes=0):
    """Activation items of the given (first, acc_first, acc_last) flags, as one payload."""
    return b"".join(pack_payload(LAYOUTS["activations"], {
        "codes": [codes] * ROWS, "first": f, "acc_first": a, "acc_last": z}).to_bytes(
            SIZES["activations"], "little") for f, a, z in flags)


def test_executor_streams_every_item_in_order():
    rows = bytes(range(SIZES["weights"] * 3))
    out = execute(Command.WEIGHTS, rows, ready=0.6)
    assert out["reply"] == (Reply.ACK, Command.WEIGHTS, 0, 1)
    assert out["items"]["weights"] == _ints(rows, SIZES["weights"])
    payload = vectors((1, 1, 0), (0, 1, 0), (0, 1, 0), codes=5)
    out = execute(Command.ACTIVATIONS, payload, ready=0.3, seed=2)
    assert out["items"]["activations"] == _ints(payload, SIZES["activations"])
    config = good_config()
    out = execute(Command.CONFIG, config, seq=77)
    assert out["reply"] == (Reply.ACK, Command.CONFIG, 0, 77)
    assert out["items"]["config"] == _ints(config, SIZES["config"])


def test_executor_answers_info_and_reset_at_once():
    out = execute(Command.INFO, b"", seq=3)
    assert out["reply"] == (Reply.INFO, Command.INFO, 0, 3) and out["restarts"] == 1
    out = execute(Command.RESET, b"")
    assert out["reply"] == (Reply.ACK, Command.RESET, 0, 1) and out["resets"] == 1


def test_executor_answers_a_retry_without_executing_it_again():
    rows = bytes(range(SIZES["weights"] * 2))
    outs = run_frames([(Command.WEIGHTS, rows, 5), (Command.WEIGHTS, rows, 5),
                       (Command.CONFIG, good_config(M=[0, 1]), 6),
                       (Command.CONFIG, good_config(M=[0, 1]), 6),
                       (Command.INFO, b"", 6), (Command.WEIGHTS, rows, 6),
                       (Command.INFO, b"", 6), (Command.INFO, b"", 6)])
    assert [o["reply"] for o in outs] == [
        (Reply.ACK, Command.WEIGHTS, 0, 5), (Reply.ACK, Command.WEIGHTS, 0, 5),
        (Reply.ERROR, Command.CONFIG, Error.RANGE, 6),
        (Reply.ERROR, Command.CONFIG, Error.RANGE, 6),
        (Reply.INFO, Command.INFO, 0, 6),  # INFO always executes and forgets the last SEQ
        (Reply.ACK, Command.WEIGHTS, 0, 6),
        (Reply.INFO, Command.INFO, 0, 6), (Reply.INFO, Command.INFO, 0, 6)]
    assert [len(o["items"]["weights"]) for o in outs] == [2, 0, 0, 0, 0, 2, 0, 0]


@pytest.mark.parametrize("kind,payload,code", [
    (0x66, b"", Error.COMMAND),
    (Command.INFO, b"\x00", Error.LENGTH),
    (Command.CONFIG, good_config()[:-1], Error.LENGTH),
    (Command.WEIGHTS, bytes(SIZES["weights"] + 1), Error.LENGTH),
    (Command.ACTIVATIONS, b"", Error.LENGTH),
    (Command.CONFIG, good_config(M=[0, 1]), Error.RANGE),
    (Command.CONFIG, good_config(a_IS=0), Error.RANGE),
    (Command.CONFIG, good_config(out_scale=-33), Error.RANGE),
    (Command.CONFIG, good_config(w_IS=3), Error.RANGE),
], ids=str)
def test_executor_refuses_what_breaks_the_rules(kind, payload, code):
    out = execute(kind, payload)
    assert out["reply"] == (Reply.ERROR, kind, code, 1)
    assert not any(out["items"].values()) and out["resets"] == 0


def _bound_model(flags):
    """The executor's activation bounds (its Notes), in Python: how many of the vectors with
    ``flags`` pass before one breaks them (all of them if none does)."""
    open_pass, length, first_length, tiles, pass_flags = False, 0, 0, 0, None
    for taken, (first, acc_first, acc_last) in enumerate(flags):
        if first:
            if not (acc_first or (open_pass and not pass_flags[1] and tiles < MAX_TILES)):
                return taken
            open_pass, length, pass_flags = True, 1, (acc_first, acc_last)
            tiles = 1 if acc_first else tiles + 1
            first_length = 1 if acc_first else first_length
        else:
            if not open_pass or (acc_first, acc_last) != pass_flags:
                return taken
            if length >= (DEPTH if pass_flags[0] else first_length):
                return taken
            length += 1
            if pass_flags[0]:
                first_length = length
    return len(flags)


BOUND_CASES = {
    "one_tile": [(1, 1, 1), (0, 1, 1), (0, 1, 1)],
    "three_tiles": [(1, 1, 0), (0, 1, 0), (1, 0, 0), (0, 0, 0), (1, 0, 1), (0, 0, 1)],
    "continue_without_start": [(1, 0, 0)],
    "vector_without_pass": [(0, 1, 0)],
    "too_many_tiles": [(1, 1, 0)] + [(1, 0, 0)] * 3 + [(1, 0, 1)],
    "pass_too_long": [(1, 1, 1)] + [(0, 1, 1)] * 4,
    "continuing_pass_longer": [(1, 1, 0), (0, 1, 0), (1, 0, 1), (0, 0, 1), (0, 0, 1)],
    "flags_change": [(1, 1, 0), (0, 1, 1)],
    "continue_after_last": [(1, 1, 1), (1, 0, 1)],
}


@pytest.mark.parametrize("case", BOUND_CASES)
def test_executor_checks_the_activation_bounds(case):
    flags = BOUND_CASES[case]
    out = execute(Command.ACTIVATIONS, vectors(*flags))
    passed = _bound_model(flags)
    assert len(out["items"]["activations"]) == passed
    if passed == len(flags):
        assert out["reply"][:3] == (Reply.ACK, Command.ACTIVATIONS, 0) and out["resets"] == 0
    else:
        assert out["reply"][:3] == (Reply.ERROR, Command.ACTIVATIONS, Error.BOUND)
        assert out["resets"] == 1


def test_executor_bounds_hold_across_frames_and_clear_on_reset():
    first = vectors((1, 1, 0), (0, 1, 0))
    outs = run_frames([(Command.ACTIVATIONS, first, 1),
                       (Command.ACTIVATIONS, vectors((1, 0, 0), (0, 0, 0)), 2),
                       (Command.RESET, b"", 3),
                       (Command.ACTIVATIONS, vectors((1, 0, 1)), 4)])
    assert [o["reply"][2] for o in outs] == [0, 0, 0, Error.BOUND]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)),
                min_size=1, max_size=10))
def test_executor_bounds_equal_their_model_on_random_flags(flags):
    out = execute(Command.ACTIVATIONS, vectors(*flags))
    assert len(out["items"]["activations"]) == _bound_model(flags)


def test_executor_resets_the_array_when_it_stalls():
    out = execute(Command.WEIGHTS, bytes(SIZES["weights"]), ready=0.0, stall_cycles=20)
    assert out["reply"] == (Reply.ERROR, Command.WEIGHTS, Error.STALLED, 1)
    assert out["resets"] == 1 and out["restarts"] == 1 and out["items"]["weights"] == []


def test_executor_waits_without_stalling_while_results_wait():
    # Results waiting at the output every few cycles (a slow line): never a stall, however long.
    out = execute(Command.WEIGHTS, bytes(SIZES["weights"] * 2), ready=0.002, stall_cycles=20,
                  results_waiting=0.3, seed=4)
    assert out["reply"] == (Reply.ACK, Command.WEIGHTS, 0, 1) and out["resets"] == 0


# ReplyFramer ---------------------------------------------------------------------------------

def test_framer_sends_replies_first_then_results():
    info = BuildInfo(FAMILY.spec, "int", ROWS, COLS, 16, 64, 12, 4, 7, 64)
    dut = ReplyFramer(info=info.to_payload(), result_layout=LAYOUTS["results"])
    result_size = item_bytes(LAYOUTS["results"].size)
    results = [0b1011_0101_1110, 0x3FF]
    replies = [(Reply.ERROR, Command.CONFIG, Error.RANGE, 9), (Reply.ACK, Command.WEIGHTS, 0, 10),
               (Reply.INFO, Command.INFO, 0, 11)]
    sent = bytearray()
    rng = random.Random(1)

    async def bench(ctx):
        waiting = list(replies)
        queue = list(results)
        for cycle in range(3000):
            reply = waiting[0] if waiting and cycle >= 3 else None
            ctx.set(dut.reply.valid, reply is not None)
            if reply:
                ctx.set(dut.reply.kind, reply[0])
                ctx.set(dut.reply.command, reply[1])
                ctx.set(dut.reply.code, reply[2])
                ctx.set(dut.reply.seq, reply[3])
            ctx.set(dut.results.valid, bool(queue))
            if queue:
                ctx.set(dut.results.payload.as_value(), queue[0])
            ctx.set(dut.tx.ready, int(rng.random() < 0.5))
            if ctx.get(dut.reply_taken):
                waiting.pop(0)
            if ctx.get(dut.results.valid) and ctx.get(dut.results.ready):
                queue.pop(0)
            if ctx.get(dut.tx.valid) and ctx.get(dut.tx.ready):
                sent.append(ctx.get(dut.tx.payload))
            await ctx.tick()

    simulate(dut, bench)
    frames = [(f.kind, f.seq, f.payload) for f in FrameDecoder(DEVICE_SYNC).feed(bytes(sent))]
    # The first result goes before any reply waits; then every waiting reply goes before the
    # next result. Replies echo their SEQ, results count from 0.
    assert frames == [
        (Reply.RESULT, 0, results[0].to_bytes(result_size, "little")),
        (Reply.ERROR, 9, bytes([Error.RANGE, Command.CONFIG])),
        (Reply.ACK, 10, bytes([Command.WEIGHTS])), (Reply.INFO, 11, info.to_payload()),
        (Reply.RESULT, 1, results[1].to_bytes(result_size, "little"))]


# WeightLoader --------------------------------------------------------------------------------

def _loader_swap(swap, full, since_swap, settled):
    """The loader model's next ``full`` and cycles since the swap (counting up to
    ``settled``)."""
    if swap:
        return False, 0
    return full, since_swap + (since_swap != settled)


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 2), (4, 4)])
def test_weight_loader_loads_behind_the_swap(rows, cols):
    dut = WeightLoader(family=FXPFamily(8), rows=rows, cols=cols)
    log = []

    async def bench(ctx):
        since_swap, row, full = rows + cols, 0, False
        swaps = {5, 30, 31 + rows + cols, 60}
        for cycle in range(120):
            hold = cycle % 17 == 3
            ctx.set(dut.weights.valid, 1)
            ctx.set(dut.weights.payload, [cycle % 256] * cols)
            ctx.set(dut.hold, hold)
            swap = cycle in swaps and ctx.get(dut.full)
            ctx.set(dut.swap, swap)
            # The model: take row r when not full, not held, r + cols cycles after a swap.
            expect = not full and not hold and since_swap >= row + cols
            assert ctx.get(dut.weights.ready) == expect, (cycle, row, since_swap)
            assert ctx.get(dut.full) == full
            if expect:
                assert ctx.get(dut.w_load) and ctx.get(dut.w_row) == row
                log.append((cycle, row))
                full = full or row == rows - 1
                row = (row + 1) % rows
            full, since_swap = _loader_swap(swap, full, since_swap, rows + cols)
            await ctx.tick()

    simulate(dut, bench)
    assert len(log) >= 2 * rows  # at least two tiles went in


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 2), (2, 4)])
def test_serial_weight_loader_writes_a_column_per_cycle_and_finishes_a_row(rows, cols):
    dut = WeightLoader(family=FXPFamily(8), rows=rows, cols=cols, serial=True)
    log = []

    async def bench(ctx):
        since_swap, row, col, full, rows_sent = rows + cols, 0, 0, False, 0
        swaps = {5, 30, 31 + rows + cols, 60, 90}
        for cycle in range(160):
            hold = cycle % 17 in (3, 4)
            # A row's transfer is held until taken (the stream rules); between rows, gaps.
            valid = col != 0 or cycle % 11 != 7
            ctx.set(dut.weights.valid, valid)
            ctx.set(dut.weights.payload, [(rows_sent + j) % 256 for j in range(cols)])
            ctx.set(dut.hold, hold)
            swap = cycle in swaps and ctx.get(dut.full)
            ctx.set(dut.swap, swap)
            # The model: a row starts when not full, not held, r + cols cycles after a swap,
            # then takes a column per cycle whatever hold says, and is taken with its last.
            started = not full and not hold and since_swap >= row + cols
            load = valid and (started or col != 0)
            assert ctx.get(dut.w_load) == load, (cycle, row, col, since_swap)
            assert ctx.get(dut.mid_row) == (col != 0)
            assert ctx.get(dut.weights.ready) == ((started or col != 0) and col == cols - 1)
            assert ctx.get(dut.full) == full
            if load:
                assert (ctx.get(dut.w_row), ctx.get(dut.w_col)) == (row, col)
                log.append((row, col, ctx.get(dut.w_codes)[col]))
                if col == cols - 1:
                    full = full or row == rows - 1
                    row, col, rows_sent = (row + 1) % rows, 0, rows_sent + 1
                else:
                    col += 1
            full, since_swap = _loader_swap(swap, full, since_swap, rows + cols)
            await ctx.tick()

    simulate(dut, bench)
    assert len(log) >= 2 * rows * cols  # at least two tiles went in
    assert all(code == (k // cols + k % cols) % 256 for k, (_, _, code) in enumerate(log))


# ColumnSerialiser ----------------------------------------------------------------------------

# Vectors spaced out, or in a burst that queues them and sends them out back to back.
@pytest.mark.parametrize("cols,latency,burst", [(1, 4, False), (3, 4, False), (4, 1, False),
                                                (3, 2, True), (1, 1, True)])
def test_serialiser_hands_out_columns_and_gathers_codes(cols, latency, burst):
    entry = data.StructLayout({"value": signed(10), "nar": 1})
    result = data.StructLayout({"codes": data.ArrayLayout(8, cols), "nar": cols})
    dut = ColumnSerialiser(entry=entry, cols=cols, depth=8, result=result)
    rng = np.random.default_rng(cols)
    vectors = [[(int(v), int(f)) for v, f in zip(rng.integers(-500, 500, cols),
                                                   rng.integers(0, 2, cols), strict=True)] for _ in range(6)]
    got, columns = [], []

    async def bench(ctx):
        pipeline = [None] * latency  # a stand-in stage: code = value mod 256, after `latency`
        pushed = 0
        for cycle in range(400):
            if pushed < len(vectors) and (burst or cycle % (cols + 1) == 0):
                ctx.set(dut.totals, [{"value": v, "nar": f} for v, f in vectors[pushed]])
                ctx.set(dut.emit, 1)
                pushed += 1
            else:
                ctx.set(dut.emit, 0)
            done = pipeline.pop(0)
            ctx.set(dut.code_valid, done is not None)
            if done is not None:
                ctx.set(dut.code, done[0] % 256)
                ctx.set(dut.code_nar, done[1])
            pipeline.append((ctx.get(dut.acc), ctx.get(dut.nar), ctx.get(dut.column))
                            if ctx.get(dut.valid) else None)
            if ctx.get(dut.valid):
                columns.append(ctx.get(dut.column))
            if ctx.get(dut.produced):
                result = ctx.get(dut.result)
                got.append([(result["codes"][j], (result["nar"] >> j) & 1) for j in range(cols)])
            await ctx.tick()

    simulate(dut, bench)
    assert got == [[(v % 256, f) for v, f in vector] for vector in vectors]
    assert columns == list(range(cols)) * len(vectors)  # each column once, in order


def test_component_arguments_are_checked():
    with pytest.raises(ValueError, match="max_payload must be an integer from 16 to 4089"):
        FrameReceiver(max_payload=4096, timeout=10, item_sizes=(1,))
    with pytest.raises(ValueError, match="stall_cycles must be an integer from 16"):
        FrameExecutor(layouts=LAYOUTS, family=FAMILY, limits=LIMITS, depth=4, max_k_tiles=2,
                      max_payload=64, item_sizes=ITEM_SIZES, stall_cycles=1)
    with pytest.raises(TypeError, match="result_layout must be a data.Layout"):
        ReplyFramer(info=b"", result_layout=8)
    with pytest.raises(ValueError, match="rows must be an integer from 1 to 64"):
        WeightLoader(family=FXPFamily(8), rows=0, cols=1)
    with pytest.raises(TypeError, match="entry must be a StructLayout of value and nar"):
        ColumnSerialiser(entry=data.StructLayout({"v": 4}), cols=2, depth=4,
                         result=data.StructLayout({"codes": data.ArrayLayout(8, 2), "nar": 2}))
    with pytest.raises(TypeError, match="result must be a StructLayout of codes and nar"):
        ColumnSerialiser(entry=data.StructLayout({"value": signed(4), "nar": 1}), cols=2,
                         depth=4, result=8)
    with pytest.raises(ValueError, match="depth must be an integer from 1 to 4096"):
        KTileAccumulation(acc_width=33, cols=4, depth=0, hold_idle=True)
    with pytest.raises(ValueError, match="cols must be an integer from 1 to 64"):
        KTileAccumulation(acc_width=33, cols=65, depth=16, hold_idle=True)
    with pytest.raises(TypeError, match="hold_idle must be True or False, not 'yes'"):
        KTileAccumulation(acc_width=33, cols=4, depth=16, hold_idle="yes")
