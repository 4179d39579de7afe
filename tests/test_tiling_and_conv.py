"""The host-side tiling plan and the golden convolution, without hardware."""

from fractions import Fraction

import numpy as np
import pytest

from golden.arith import ScalingLimits, matmul, scale
from golden.conv import conv2d, im2col
from golden.family import FXPFamily, TFXFamily
from golden.layers import Layer, run_layer
from hdl.tiling import plan_layer

LIMITS = ScalingLimits(bias_bits=24, m_bits=8, shift_max=15)


def execute(plan, layer, rows, cols):
    """What the accelerator does with a plan, in NumPy: each pass adds a tile product into
    accumulators indexed by the vector's position in the pass, bias first, scale at last."""
    results = []
    for config, passes in plan.groups:
        buffer = {}
        for step in passes:
            part = matmul(step.activations, layer.a_fmt, step.weights, layer.w_fmt, nar="flag")
            for i in range(len(step.activations)):
                base = (np.array(config["bias"]), np.zeros(cols, bool)) if step.acc_first \
                    else buffer[i]
                buffer[i] = (base[0] + part.values[i], base[1] | part.nar[i])
                if step.acc_last:
                    acc = type(part)(buffer[i][0][None], part.exponent, buffer[i][1][None])
                    codes = scale(acc, layer.out_fmt, M=np.array(config["M"]),
                                  shift=np.array(config["shift"]), relu=layer.relu,
                                  limits=LIMITS)[0]
                    results.append((codes, buffer[i][1].astype(int)))
    return results


@pytest.mark.parametrize("family,rows,cols,depth,shape", [
    (TFXFamily(8, 3), 4, 4, 16, (37, 23, 9)), (FXPFamily(6), 3, 5, 4, (10, 7, 11)),
    (TFXFamily(5, 2), 1, 1, 1, (3, 2, 2)), (TFXFamily(8, 3), 8, 8, 64, (5, 8, 8)),
])
def test_plan_reassembles_the_golden_layer(family, rows, cols, depth, shape):
    M, K, N = shape
    rng = np.random.default_rng(M)
    a_fmt, w_fmt, out = family.widest(), family.members()[0], family.widest()
    a = rng.integers(0, 1 << family.n, (M, K))
    w = rng.integers(0, 1 << family.n, (K, N))
    layer = Layer.make(family=family, a_fmt=a_fmt, w_fmt=w_fmt, out_fmt=out, N=N,
                       bias=rng.integers(-500, 500, N), M=rng.integers(1, 256, N),
                       shift=rng.integers(0, 16, N), relu=True, limits=LIMITS)
    plan = plan_layer(a, w, layer, rows=rows, cols=cols, depth=depth, max_K=K)
    assert all(len(p.activations) <= depth for _, passes in plan.groups for p in passes)
    vectors = execute(plan, layer, rows, cols)
    codes = plan.assemble([v[0] for v in vectors])
    nars = plan.assemble([v[1] for v in vectors])
    want, want_nar = run_layer(a, w, layer, limits=LIMITS)
    assert np.array_equal(codes, want) and np.array_equal(nars, want_nar)
    assert plan.results == M * -(-N // cols)


def test_plan_and_layer_errors():
    family = TFXFamily(8, 3)
    fmt = family.widest()
    layer = Layer.make(family=family, a_fmt=fmt, w_fmt=fmt, out_fmt=fmt, N=3)
    a, w = np.zeros((2, 5), int), np.zeros((5, 3), int)
    with pytest.raises(ValueError, match=r"K must be an integer from 1 to 4, not 5"):
        plan_layer(a, w, layer, rows=2, cols=2, depth=4, max_K=4)
    with pytest.raises(ValueError, match="do not fit a matrix product"):
        plan_layer(a, w.T, layer, rows=2, cols=2, depth=4, max_K=8)
    with pytest.raises(ValueError, match="the layer has 3 output columns, w has 2"):
        plan_layer(a, w[:, :2], layer, rows=2, cols=2, depth=4, max_K=8)
    with pytest.raises(ValueError, match="is not a member of the hardware's family"):
        Layer.make(family=family, a_fmt=TFXFamily(8, 5).widest(), w_fmt=fmt, out_fmt=fmt, N=3)
    with pytest.raises(ValueError, match="M must be an integer from 1 to 255, not 0"):
        Layer.make(family=family, a_fmt=fmt, w_fmt=fmt, out_fmt=fmt, N=3, M=0, limits=LIMITS)
    with pytest.raises(ValueError, match=r"bias must be a scalar or have one value per output "
                                         r"column \(3\), not shape \(2,\)"):
        Layer.make(family=family, a_fmt=fmt, w_fmt=fmt, out_fmt=fmt, N=3, bias=[1, 2])


def test_conv2d_equals_the_direct_sum():
    """im2col + matmul against the convolution written out in exact fractions."""
    rng = np.random.default_rng(2)
    family = TFXFamily(6, 3)
    x_fmt, w_fmt = family.member(2, -1), family.member(3, 1)
    x = rng.integers(0, 64, (2, 3, 5, 4))
    x[x == 32] = 0
    weight = rng.integers(0, 64, (4, 3, 3, 2))
    weight[weight == 32] = 0
    stride, padding = 2, 1
    acc = conv2d(x, x_fmt, weight, w_fmt, stride=stride, padding=padding)
    xv, wv = x_fmt.decode(x), w_fmt.decode(weight)
    B, C, H, W = x.shape
    OC, _, KH, KW = weight.shape
    assert acc.values.shape == (B, (H + 2 - KH) // 2 + 1, (W + 2 - KW) // 2 + 1, OC)
    for b, oy, ox, oc in np.ndindex(acc.values.shape):
        total = Fraction(0)
        for c, ky, kx in np.ndindex(C, KH, KW):
            y, xx = oy * stride + ky - padding, ox * stride + kx - padding
            if 0 <= y < H and 0 <= xx < W:
                total += Fraction(float(xv[b, c, y, xx])) * Fraction(float(wv[oc, c, ky, kx]))
        assert Fraction(int(acc.values[b, oy, ox, oc])) * Fraction(2) ** acc.exponent == total


def test_conv_errors():
    with pytest.raises(ValueError, match="does not fit an input of size 2"):
        im2col(np.zeros((1, 1, 2, 2), int), (3, 3))
    with pytest.raises(ValueError, match=r"must have shape \(B, C, H, W\)"):
        im2col(np.zeros((2, 2), int), (1, 1))
    fmt = FXPFamily(8).widest()
    with pytest.raises(ValueError, match="must agree on C"):
        conv2d(np.zeros((1, 2, 3, 3), int), fmt, np.zeros((1, 3, 1, 1), int), fmt)


def test_four_sided_padding_is_checked_and_matches_explicit_zeros():
    import numpy as np
    import pytest

    from golden.conv import im2col, padding_sides

    assert padding_sides(2) == (2, 2, 2, 2) and padding_sides([0, 1, 2, 3]) == (0, 1, 2, 3)
    with pytest.raises(ValueError, match=r"padding must be one integer or four"):
        padding_sides([1, 2])
    with pytest.raises(ValueError, match=r"padding must be an integer from 0 to 64"):
        padding_sides([0, 0, -1, 0])
    x = np.arange(2 * 3 * 5 * 4).reshape(2, 3, 5, 4)
    explicit = np.pad(x, ((0, 0), (0, 0), (0, 1), (2, 0)))
    np.testing.assert_array_equal(im2col(x, (3, 3), stride=2, padding=[0, 2, 1, 0])[0],
                                  im2col(explicit, (3, 3), stride=2)[0])
