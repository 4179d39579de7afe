"""References for the formal checks, written from the format definitions (``docs/formats/``)
and the protocol, independently of the hardware they check: each builds its answer from
Amaranth expressions inside a harness's module."""

from amaranth.hdl import Cat, Const, Mux, Signal

from hdl.protocol import CRC_INIT, CRC_POLYNOMIAL

__all__ = ["reference_operand", "crc_bitwise"]


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


def crc_bitwise(m, bits, name):
    """CRC-16/IBM-3740 of a list of bit values (MSB first per byte), one bit at a time (a
    signal per step)."""
    crc = Const(CRC_INIT, 16)
    for step, bit in enumerate(bits):
        following = Signal(16, name=f"{name}_{step}")
        m.d.comb += following.eq(Cat(Const(0, 1), crc[:15]) ^ Mux(crc[15] ^ bit,
                                                                  CRC_POLYNOMIAL, 0))
        crc = following
    return crc


def shifted_reference(psum, shift, max_shift):
    """``psum * 2**shift`` for ``0 <= shift <= max_shift``, one constant multiple per shift
    value (no shifter): what :class:`hdl.accelerator.BlockShifter` must give."""
    from amaranth.hdl import Mux

    result = psum * 0
    for k in range(max_shift + 1):
        result = Mux(shift == k, psum * (1 << k), result)
    return result

