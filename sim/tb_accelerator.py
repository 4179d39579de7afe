"""cocotb: whole layers through the accelerator's streams against the golden model.

Every output code and NaR flag must equal ``golden.arith.matmul`` + ``scale`` (through
:func:`golden.layers.run_layer`); layers of random shapes and formats, zeros, the accumulator's
worst case at the largest K, NaR, a conv2d through im2col, with and without idle input gaps and
output stalls.
"""

import cocotb
import numpy as np

from golden.arith import integer_array, matmul, scale
from golden.conv import conv2d, im2col
from golden.datasets import load_digits
from golden.layers import Layer, choose_format, quantize_dense, run_layer
from golden.models import MODELS, load_mlp
from .array_driver import ArrayDriver
from .common import Scoreboard, params
from .stimulus import fitting_output, random_codes, random_member


def check_layers(board, limits, plans_and_inputs, outputs):
    for (plan, a, w, layer), vectors in zip(plans_and_inputs, outputs):
        codes = plan.assemble([v[0] for v in vectors])
        nars = plan.assemble([v[1] for v in vectors])
        want_codes, want_nar = run_layer(a, w, layer, limits=limits)
        context = [(layer.a_fmt.label, layer.w_fmt.label, layer.out_fmt.label, a.shape, w.shape,
                    i) for i in range(codes.size)]
        board.compare(codes, want_codes, context)
        board.compare(nars, want_nar.astype(np.int64), context)


def random_block_shifts(rng, K, N, block, largest):
    """Block shifts (K, N) of block-scaled weights: one per ``block`` rows of a column, from 0
    to ``largest`` (both ends among them)."""
    blocks = -(-K // block)
    per_block = rng.integers(0, largest + 1, (blocks, N))
    per_block.flat[:2] = [0, largest][:per_block.size]
    return np.repeat(per_block, block, axis=0)[:K]


def random_layer(family, limits, rng, M, K, N, nar_rate=0.0, mx_block=None, block_shift=0,
                 mx_share=0.5):
    """Random codes and run-time formats for an M x K x N layer, output format fitted; with
    ``mx_block``, block-scaled weights (shifts up to ``block_shift``) on a share ``mx_share``
    of them."""
    a_fmt, w_fmt = random_member(family, rng), random_member(family, rng)
    a = random_codes(a_fmt, (M, K), rng, nar_rate)
    w = random_codes(w_fmt, (K, N), rng, nar_rate / 4)
    w_shift = None
    if mx_block and rng.random() < mx_share:
        w_shift = random_block_shifts(rng, K, N, mx_block, block_shift)
    plain = matmul(a, a_fmt, w, w_fmt, nar="flag", w_shift=w_shift)
    # The hardware's bias register holds the bias in its own (maybe finer) units.
    largest_bias = limits.max_abs_bias >> family.accumulator_shift(a_fmt, w_fmt)
    span = max(1, min(largest_bias, int(np.abs(plain.values).max())))
    bias = random_biases(rng, span, N)
    M_param = rng.integers(1, 1 << limits.m_bits, N)
    shift = rng.integers(0, limits.shift_max + 1, N)
    acc = matmul(a, a_fmt, w, w_fmt, bias=bias, nar="flag", limits=limits, w_shift=w_shift)
    out = fitting_output(family, acc, M_param, shift, rng)
    relu = bool(rng.integers(0, 2)) or not out.signed  # an unsigned output follows a ReLU
    layer = Layer.make(family=family, a_fmt=a_fmt, w_fmt=w_fmt, out_fmt=out, N=N, bias=bias,
                       M=M_param, shift=shift, relu=relu, w_shift=w_shift, limits=limits)
    return a, w, layer


def random_biases(rng, span, N):
    """N uniform integers from -span to span, as Python integers beyond int64
    (:func:`golden.arith.integer_array`)."""
    if span < 1 << 62:
        return rng.integers(-span, span + 1, N)
    draws = (int.from_bytes(rng.bytes(span.bit_length() // 8 + 9), "little") for _ in range(N))
    return integer_array([d % (2 * span + 1) - span for d in draws])


async def _run(dut, driver, layers, board, **kwargs):
    plans = [(driver.plan(a, w, layer), a, w, layer) for a, w, layer in layers]
    outputs, stats = await driver.run([p[0] for p in plans], **kwargs)
    check_layers(board, driver.limits, plans, outputs)
    return stats


@cocotb.test()
async def random_layers(dut):
    """Random shapes (K, N and M not multiples of the array, passes longer than the buffer)
    and formats, NaR operands; once streaming freely, once with gaps and stalls."""
    p = params()
    driver = ArrayDriver(dut, p)
    await driver.start()
    rng = np.random.default_rng(p.get("seed", 1))
    layers = []
    for _ in range(p.get("layers", 6)):
        M = int(rng.integers(1, 2 * driver.depth + 3))
        K = int(rng.integers(1, driver.max_K + 1))
        N = int(rng.integers(1, 2 * driver.cols + 2))
        layers.append(random_layer(driver.family, driver.limits, rng, M, K, N,
                                   nar_rate=0.02 * (rng.random() < 0.5),
                                   mx_block=driver.mx_block, block_shift=driver.block_shift))
    board = Scoreboard("random layers")
    await _run(dut, driver, layers, board, rng=rng)
    await _run(dut, driver, layers[::-1], board, rng=rng, input_gaps=0.3, output_stalls=0.4)
    # A sink that mostly refuses: the output FIFO fills up and must stop the activations.
    tall = random_layer(driver.family, driver.limits, rng, 3 * driver.depth + 30, driver.rows,
                        driver.cols)
    await _run(dut, driver, [tall], board, rng=rng, output_stalls=0.9)
    board.check(dut._log)


@cocotb.test()
async def zeros_and_extremes(dut):
    """All-zero operands; every operand at ±maxpos at the largest K with the largest bias,
    so the accumulator reaches its bound (it must not wrap); single-vector passes."""
    p = params()
    driver = ArrayDriver(dut, p)
    await driver.start()
    family, limits, K = driver.family, driver.limits, driver.max_K
    fmt = family.widest()  # unsigned in a family with unsigned variants: then weights signed
    w_fmt = fmt if fmt.signed else family.signed_family.widest()
    extremes = lambda f: [int(f.quantize(sign * f.maxpos)) for sign in (1, -1)[:1 + f.signed]]
    w_top, w_neg = extremes(w_fmt)  # ±maxpos
    N = driver.cols + 1
    layers = [(np.zeros((3, K), dtype=np.int64), np.zeros((K, N), dtype=np.int64),
               Layer.make(family=family, a_fmt=fmt, w_fmt=w_fmt, out_fmt=fmt, N=N,
                          relu=not fmt.signed))]
    rng = np.random.default_rng(5)
    room = family.accumulator_shift(fmt, w_fmt)
    for a_code, sign in zip(extremes(fmt), (1, -1)):
        a = np.full((2, K), a_code)
        w = np.full((K, N), w_top)
        w[:, 1::2] = w_neg
        bias = integer_array([sign * (limits.max_abs_bias >> room) * (-1 if j % 2 else 1)
                              for j in range(N)])
        M = (1 << limits.m_bits) - 1
        acc = matmul(a, fmt, w, w_fmt, bias=bias, limits=limits)
        for out, shift in ((fmt, 0), (fitting_output(family, acc, M, limits.shift_max, rng),
                                      limits.shift_max)):
            layers.append((a, w, Layer.make(family=family, a_fmt=fmt, w_fmt=w_fmt, out_fmt=out,
                                            N=N, bias=bias, M=M, shift=shift,
                                            relu=not out.signed, limits=limits)))
    layers.append(random_layer(family, limits, rng, 1, K, driver.cols))  # passes of one vector
    board = Scoreboard("zeros and extremes")
    await _run(dut, driver, layers, board, rng=rng)
    acc = matmul(layers[1][0], fmt, layers[1][1], w_fmt, bias=layers[1][2].bias, limits=limits)
    dut._log.info("largest |accumulator| %d of %d bits", int(np.abs(acc.values).max()),
                  int(np.abs(acc.values).max()).bit_length() + 1)
    board.check(dut._log)


@cocotb.test()
async def conv2d_through_im2col(dut):
    """A 3x3 convolution (padding 1, stride 1) and a strided one, lowered by im2col."""
    p = params()
    driver = ArrayDriver(dut, p)
    await driver.start()
    rng = np.random.default_rng(11)
    family = driver.family
    board = Scoreboard("conv2d")
    for (B, C, H, W, OC, k, stride, padding) in ((2, 2, 5, 4, 3, 3, 1, 1), (1, 3, 6, 6, 2, 2, 2, 0)):
        if C * k * k > driver.max_K:
            continue
        x_fmt, w_fmt = random_member(family, rng), random_member(family, rng)
        x = random_codes(x_fmt, (B, C, H, W), rng)
        weight = random_codes(w_fmt, (OC, C, k, k), rng)
        bias = rng.integers(-1000, 1000, OC)
        acc = conv2d(x, x_fmt, weight, w_fmt, stride=stride, padding=padding, bias=bias,
                     limits=driver.limits)
        out = fitting_output(family, acc, 1, 0, rng)
        layer = Layer.make(family=family, a_fmt=x_fmt, w_fmt=w_fmt, out_fmt=out, N=OC,
                           bias=bias, relu=True, limits=driver.limits)
        patches, (oh, ow) = im2col(x, (k, k), stride=stride, padding=padding)
        w_matrix = weight.reshape(OC, -1).T
        plan = driver.plan(patches, w_matrix, layer)
        (vectors,), _ = await driver.run([plan], rng=rng, input_gaps=0.1, output_stalls=0.1)
        got = plan.assemble([v[0] for v in vectors]).reshape(B, oh, ow, OC)
        want = scale(acc, out, relu=True, limits=driver.limits)
        board.compare(got, want, None)
    board.check(dut._log)


@cocotb.test(skip=params()["max_K"] < 64)
async def trained_digits_layer(dut):
    """The first layer (64 -> 32, ReLU) of the shipped digits MLP on real test images, with
    formats from the per-layer search (TENT for TFX), through the array, bit-exact; the
    hardware's hidden codes then classify the images through the float second layer."""
    p = params()
    driver = ArrayDriver(dut, p)
    await driver.start()
    model = load_mlp(MODELS / "digits_mlp.npz")
    x_cal, _ = load_digits("calibration")
    x_test, y_test = load_digits("test")
    x_test, y_test = x_test[:p.get("images", 48)], y_test[:p.get("images", 48)]
    a_fmt = choose_format(x_cal, driver.family)
    w, b = model.layers[0]
    w_codes, layer = quantize_dense(w, b, family=driver.family, a_fmt=a_fmt, relu=True,
                                    calibration_out=model.activations(x_cal)[1],
                                    limits=driver.limits)
    a_codes = a_fmt.quantize(x_test)
    plan = driver.plan(a_codes, w_codes, layer)
    (vectors,), stats = await driver.run([plan])
    board = Scoreboard("trained digits layer")
    check_layers(board, driver.limits, [(plan, a_codes, w_codes, layer)], [vectors])
    hidden = layer.out_fmt.decode(plan.assemble([v[0] for v in vectors]))
    w2, b2 = model.layers[1]
    accuracy = float(np.mean(np.argmax(hidden @ w2 + b2, axis=1) == y_test))
    dut._log.info("formats a %s, w %s, out %s; %d cycles; %d images, accuracy %.3f (float "
                  "model %.3f)", a_fmt.label, layer.w_fmt.label, layer.out_fmt.label,
                  stats.cycles, len(y_test), accuracy,
                  float(np.mean(model.predict(x_test) == y_test)))
    assert accuracy > 0.8, "the quantized layer no longer classifies digits"
    board.check(dut._log)


@cocotb.test(skip="soak_macs" not in params())
async def soak(dut):
    """Random layers (shapes, formats, NaR, gaps and stalls drawn per batch) until
    ``soak_macs`` useful MACs have been checked against the golden model; logs the count and
    the rate, and writes them to ``soak_report`` (JSON)."""
    import json
    import time

    p = params()
    driver = ArrayDriver(dut, p)
    await driver.start()
    rng = np.random.default_rng(p.get("seed", 1))
    board = Scoreboard("soak")
    macs = layers = batches = 0
    start = time.monotonic()
    next_report = p["soak_macs"] / 10
    while macs < p["soak_macs"]:
        batch = []
        for _ in range(4):
            M = int(rng.integers(1, 3 * driver.depth + 1))
            K = int(rng.integers(1, driver.max_K + 1))
            N = int(rng.integers(1, 3 * driver.cols + 1))
            batch.append(random_layer(driver.family, driver.limits, rng, M, K, N,
                                      nar_rate=0.01 * (rng.random() < 0.3)))
            macs += M * K * N
        gaps, stalls = [(0.0, 0.0), (0.2, 0.3), (0.0, 0.8)][batches % 3]
        await _run(dut, driver, batch, board, rng=rng, input_gaps=gaps, output_stalls=stalls)
        layers += len(batch)
        batches += 1
        if macs >= next_report:
            dut._log.info(f"soak: {macs:,} MACs in {layers} layers, "
                          f"{macs / (time.monotonic() - start):,.0f} MACs/s")
            next_report += p["soak_macs"] / 10
    seconds = time.monotonic() - start
    board.check(dut._log)
    record = {"macs": macs, "layers": layers, "seconds": round(seconds, 1),
              "macs_per_second": round(macs / seconds), "results_checked": board.checked}
    dut._log.info(f"soak done: {record}")
    with open(p["soak_report"], "w") as file:
        json.dump(record, file)
