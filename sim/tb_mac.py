"""cocotb: the decoding MAC, every operand pair and random dot products, against the golden model."""

import cocotb
import numpy as np

from golden import parse_format
from golden.arith import matmul
from .common import ClockedBench, Scoreboard, drive_member, family_from, params


def _members(family, p):
    """The run-time formats under test (their specs are in the parameters)."""
    return [family.check_member(parse_format(spec)) for spec in p["members"]]


def _set_formats(dut, family, a_fmt, w_fmt):
    drive_member(dut, family, a_fmt, "a_", scale=False)
    drive_member(dut, family, w_fmt, "w_", scale=False)


@cocotb.test()
async def every_operand_pair(dut):
    """All 2**n x 2**n code pairs: each cycle starts a new product (bias 0)."""
    p = params()
    family = family_from(p)
    bench = ClockedBench(dut)
    await bench.start()
    board = Scoreboard("mac pairs")
    codes = np.arange(1 << family.n)
    a_codes = np.repeat(codes, codes.size)
    w_codes = np.tile(codes, codes.size)
    dut.bias.value = 0
    dut.clear.value = 0
    dut.load_bias.value = 1
    dut.en.value = 1
    for fmt in _members(family, p):
        _set_formats(dut, family, fmt, fmt)
        acc, nar = [], []
        for i in range(a_codes.size + 1):
            if i:
                acc.append(dut.acc.value.to_signed())
                nar.append(int(dut.nar.value))
            if i < a_codes.size:
                dut.a_code.value = int(a_codes[i])
                dut.w_code.value = int(w_codes[i])
            await bench.cycle()
        golden = matmul(codes[:, None], fmt, codes[None, :], fmt, nar="flag")
        board.compare(acc, golden.values.reshape(-1), None)
        board.compare(nar, golden.nar.reshape(-1).astype(int), None)
    board.check(dut._log)


def _jobs(family, members, K, bias_bits, rng):
    n = family.n
    top = (1 << (bias_bits - 1)) - 1
    jobs = []
    maxpos, maxneg = (1 << (n - 1)) - 1, (1 << (n - 1)) + 1
    for a_fmt in members:
        for w_fmt in members:
            jobs.append((a_fmt, w_fmt, np.full(K, maxpos), np.full(K, maxpos), top))
            jobs.append((a_fmt, w_fmt, np.full(K, maxpos), np.full(K, maxneg), -top))
            alternating = np.where(np.arange(K) % 2, maxpos, maxneg)
            jobs.append((a_fmt, w_fmt, alternating, np.full(K, maxpos), 0))
    for _ in range(60):
        a_fmt, w_fmt = rng.choice(members, 2)
        length = int(rng.integers(1, K + 1))
        a = rng.integers(0, 1 << n, length)
        w = rng.integers(0, 1 << n, length)
        if not family.has_nar or rng.random() < 0.7:  # most jobs without NaR
            nar = 1 << (n - 1)
            a[a == nar] = 0
            w[w == nar] = 0
        jobs.append((a_fmt, w_fmt, a, w, int(rng.integers(-top, top + 1))))
    return jobs


@cocotb.test()
async def random_dot_products(dut):
    """Dot products up to K, back to back, formats changing between them; extremes included."""
    p = params()
    family = family_from(p)
    rng = np.random.default_rng(p.get("seed", 1))
    jobs = _jobs(family, _members(family, p), p["K"], p["bias_bits"], rng)
    bench = ClockedBench(dut)
    await bench.start()
    board = Scoreboard("mac dot products")
    results = []
    dut.clear.value = 0
    dut.en.value = 1
    for index, (a_fmt, w_fmt, a, w, bias) in enumerate(jobs):
        _set_formats(dut, family, a_fmt, w_fmt)
        dut.bias.value = bias
        for i, (ca, cw) in enumerate(zip(a, w)):
            dut.load_bias.value = int(i == 0)
            dut.a_code.value = int(ca)
            dut.w_code.value = int(cw)
            await bench.cycle()
        results.append((dut.acc.value.to_signed(), int(dut.nar.value)))
        if index % 7 == 3:  # idle cycles between some jobs: the accumulator must hold
            dut.en.value = 0
            dut.load_bias.value = 0
            await bench.cycle()
            await bench.cycle()
            results[-1] = results[-1] + ((dut.acc.value.to_signed(), int(dut.nar.value)),)
            dut.en.value = 1
    for (a_fmt, w_fmt, a, w, bias), result in zip(jobs, results):
        golden = matmul(a[None, :], a_fmt, w[:, None], w_fmt, bias=[bias], nar="flag",)
        expected = (int(golden.values[0, 0]), int(golden.nar[0, 0]))
        board.compare([result[0], result[1]], list(expected), [(a_fmt.label, w_fmt.label, "acc"),
                                                               (a_fmt.label, w_fmt.label, "nar")])
        if len(result) == 3:
            board.compare(list(result[2]), list(expected), [("held", "acc"), ("held", "nar")])
    board.check(dut._log)
