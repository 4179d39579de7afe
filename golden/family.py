"""Format families: what hardware is built for, with each tensor's format chosen at run time.

TENT picks (IS, SC) per tensor, so one piece of hardware must run every member of a family:
``TFXFamily(n, IS_max)`` holds every ``TFX(n, IS, SC)`` with ``IS_min <= IS <= IS_max`` and any
legal SC; ``FXPFamily(n)`` every ``FXP(n, F)``. The family fixes the widths (operand,
significand, exponent); the member's parameters are register values loaded per layer.

:class:`Family` is the protocol that the hardware generators, benches and reports ask instead of
branching on the type of a family: its run-time fields and their ranges, its members from
register values and back, its operand forms, the accumulator exponent of two members, its
protocol code, label and spec. Adding a format means its golden file, a :class:`Family`
subclass registered in :data:`FAMILY_TYPES`, and its decoder and encoder in :mod:`hdl.formats`.
"""

import abc
from dataclasses import replace

import numpy as np

from .arith import DEFAULT_LIMITS, MAX_BIAS_BITS

from ._checks import check_int
from .fxp import FXP
from .minifloat import FP
from .posit import Posit
from . import fxp as _fxp, minifloat as _minifloat, posit as _posit, tfx as _tfx
from .search import search_fp, search_fxp, search_posit, search_tfx
from .tfx import TFX
from .unsigned import unsigned

__all__ = ["Family", "TFXFamily", "FXPFamily", "PositFamily", "FPFamily", "WithUnsigned",
           "FAMILY_TYPES",
           "parse_family", "family_of", "family_from_protocol", "default_is_max",
           "default_posit_es", "default_fp_E", "default_family", "FORMAT_KINDS"]


def default_posit_es(n):
    """The posit exponent size this project studies: es = 1 at every width (es = 0 is TFX
    with an uncapped regime)."""
    check_int("n", n, _posit.MIN_N, _posit.MAX_N)
    return 1


def default_fp_E(n):
    """The minifloat exponent width this project studies at width ``n``: the OCP type's where
    there is one (FP8 E4M3, FP6 E2M3, FP4 E2M1), else ``(n - 1) // 2`` (E1M1, E2M2, E3M3)."""
    n = check_int("n", n, _minifloat.MIN_N, _minifloat.MAX_N)
    return {4: 2, 6: 2, 8: 4}.get(n, max(1, (n - 1) // 2))


def default_is_max(n):
    """The IS_max this project builds and studies for width ``n``: ``min(3, n - 2)``, every
    run-time IS keeping at least one fraction bit at its longest regime, capped at 3 (the
    paper's hardware range). n = 3 gives 1, n = 4 gives 2, n >= 5 gives 3."""
    n = check_int("n", n, _tfx.MIN_N, _tfx.MAX_N)
    return max(1, min(3, n - 2))


class Family(abc.ABC):
    """What one hardware build runs: every member format of one kind and width.

    A member is named by register values: its *fields* (small unsigned registers such as
    TFX's IS; none for fixed point) and its *scale* (a signed register, SC or F, in
    :attr:`scale_range`). Hardware ports and payload fields carry the names of
    :attr:`fields` and ``scale`` with a tensor prefix (``a_IS``, ``w_scale``, ...).

    Subclasses define the abstract members; everything else is shared.
    """

    #: Spec prefix and protocol kind, e.g. ``"tfx"``.
    kind = None
    #: Operand forms the hardware can hold (see :mod:`hdl.operand`); ``"int"`` always.
    forms = ("int",)
    #: The spec strings :func:`parse_family` accepts for this type, for error messages.
    spec_forms = ()

    @property
    @abc.abstractmethod
    def n(self):
        """Word width in bits."""

    @property
    @abc.abstractmethod
    def label(self):
        """A short human-readable name, e.g. ``TFX8/IS<=3``."""

    @property
    @abc.abstractmethod
    def spec(self):
        """The string :func:`parse_family` turns back into this family."""

    @property
    @abc.abstractmethod
    def has_nar(self):
        """Whether members have a NaR code."""

    @property
    @abc.abstractmethod
    def fields(self):
        """Run-time fields besides the scale: ``{name: (low, high)}``, inclusive."""

    @property
    @abc.abstractmethod
    def scale_name(self):
        """What the scale is called in the golden formats (``"SC"``, ``"F"``)."""

    @property
    @abc.abstractmethod
    def scale_range(self):
        """``(low, high)`` of the run-time scale, inclusive."""

    #: A few scales across the family's usual range, for verification plans and examples.
    example_scales = (0,)

    @abc.abstractmethod
    def member_from(self, fields, scale):
        """The member with run-time field values ``fields`` (a mapping) and ``scale``."""

    @abc.abstractmethod
    def registers(self, fmt):
        """The register values of member ``fmt``: ``{field: value, ..., "scale": value}``."""

    @abc.abstractmethod
    def widest(self):
        """The member with the largest operands."""

    @abc.abstractmethod
    def check_member(self, fmt):
        """``fmt`` if it is a member, else a ``ValueError``."""

    @property
    @abc.abstractmethod
    def operand_width(self):
        """Bits of the signed integer operand ``X`` of the widest member."""

    def int_exponent(self, scale):
        """The exponent of the integer operand ``X`` of the members with ``scale`` (their
        other fields do not change it): half of :meth:`accumulator_exponent` of two such
        members. Works on integers and on hardware values alike."""
        return self.accumulator_exponent(scale, 0) - self.accumulator_exponent(0, 0) // 2

    @abc.abstractmethod
    def accumulator_exponent(self, a_scale, w_scale):
        """Run-time E of an accumulator of products of two members with scales ``a_scale``
        and ``w_scale``: ``a_fmt.int_exponent + w_fmt.int_exponent`` in terms of the scales.
        Works on integers and on hardware values alike."""

    @abc.abstractmethod
    def encoder_exponent(self, scale):
        """What an output of ``scale`` adds to the exponent ``Z`` of ``magnitude * 2**Z`` as
        the encoder takes it (the value in units of the member's scale). Works on integers
        and on hardware values alike."""

    @abc.abstractmethod
    def choose(self, x, *, objective="mse"):
        """The member the per-tensor search picks for the values ``x``."""

    @abc.abstractmethod
    def fitting_scale(self, values):
        """A quick scale for non-zero magnitudes ``values`` without the search: the one that
        puts them where the member is most precise without saturating most of them."""

    @property
    @abc.abstractmethod
    def protocol_code(self):
        """The family's byte in the host link's INFO reply."""

    @property
    @abc.abstractmethod
    def protocol_args(self):
        """Two parameter bytes for the INFO reply (see :func:`family_from_protocol`)."""

    @classmethod
    @abc.abstractmethod
    def from_spec(cls, kind, numbers):
        """The family of spec ``kind:numbers``, or None if the spec is not of this type."""

    @classmethod
    @abc.abstractmethod
    def from_protocol(cls, code, n, args):
        """The family of an INFO reply's code, width and parameter bytes, or None."""

    @classmethod
    @abc.abstractmethod
    def holding(cls, fmt):
        """The smallest family of this type that holds ``fmt``, or None."""

    def unsigned_parent(self):
        """The family one bit wider whose nonnegative members are this family's unsigned
        variants (:mod:`golden.unsigned`); the per-tensor search for an unsigned tensor picks
        from it."""
        raise TypeError(f"{self.label} has no unsigned variants")

    #: How a member's n-bit code becomes the code of the same value in the member of
    #: :meth:`unsigned_parent` with the same registers: ``"shift"`` (``code << 1``: one more
    #: fraction bit, zero) or ``"extend"`` (sign extension: fixed point keeps its F).
    widening = "shift"

    def operand_shift(self, fmt):
        """How many bits finer the hardware's operand unit of member ``fmt`` is than
        ``2**fmt.int_exponent``: the hardware's integer is ``fmt.to_int(code) << shift`` (0
        unless the hardware holds its operands in a wider family's units,
        :class:`WithUnsigned`)."""
        return 0

    def accumulator_shift(self, a_fmt, w_fmt):
        """How many bits finer the hardware's accumulator unit is than the golden model's,
        ``2**(a_fmt.int_exponent + w_fmt.int_exponent)``: the bias goes to the hardware
        shifted left by this."""
        return self.operand_shift(a_fmt) + self.operand_shift(w_fmt)

    # Shared.

    def default_limits(self):
        """The scaling-stage register sizes a quantization for this family assumes unless
        told: :data:`golden.arith.DEFAULT_LIMITS` (32-bit bias)."""
        return DEFAULT_LIMITS

    def members(self, scales=(0,)):
        """Every member with a scale from ``scales``, fields ascending."""
        combos = [{}]
        for name, (low, high) in self.fields.items():
            combos = [{**c, name: v} for c in combos for v in range(low, high + 1)]
        return [self.member_from(c, scale) for c in combos for scale in scales]

    @property
    def register_names(self):
        """Names of every run-time register of a member: the fields, then ``"scale"``."""
        return (*self.fields, "scale")

    def __eq__(self, other):
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())

    @abc.abstractmethod
    def _key(self):
        """A tuple identifying the family."""


class TFXFamily(Family):
    """Every ``TFX(n, IS, SC)`` with ``IS_min <= IS <= IS_max``; SC from -32 to 32.

    Parameters
    ----------
    n : int
        Word width, 3 to 16.
    IS_max : int
        Largest regime run the hardware supports, 1 to ``n - 1``: operands are ``n + IS_max``
        bits.
    IS_min : int
        Smallest supported IS, 1 to ``IS_max`` (default 1). With ``IS_min >= 2`` every regime is
        at least two bits long, which saves one significand bit.
    """

    kind = "tfx"
    forms = ("int", "ses")
    spec_forms = ("tfx:N,IS_MAX[,IS_MIN]",)
    scale_name = "SC"
    scale_range = (_tfx.MIN_SC, _tfx.MAX_SC)
    example_scales = (-2, 0, 3)

    def __init__(self, n, IS_max, *, IS_min=1):
        self._n = check_int("n", n, _tfx.MIN_N, _tfx.MAX_N)
        self.IS_max = check_int("IS_max", IS_max, 1, self.n - 1)
        self.IS_min = check_int("IS_min", IS_min, 1, self.IS_max)

    n = property(lambda self: self._n)

    def __repr__(self):
        extra = f", IS_min={self.IS_min}" if self.IS_min != 1 else ""
        return f"TFXFamily(n={self.n}, IS_max={self.IS_max}{extra})"

    def _key(self):
        return ("tfx", self.n, self.IS_max, self.IS_min)

    @property
    def label(self):
        return f"TFX{self.n}/IS<={self.IS_max}"

    @property
    def spec(self):
        extra = f",{self.IS_min}" if self.IS_min != 1 else ""
        return f"tfx:{self.n},{self.IS_max}{extra}"

    @property
    def has_nar(self):
        return True

    @property
    def fields(self):
        return {"IS": (self.IS_min, self.IS_max)}

    def member(self, IS, SC=0):
        """The format ``TFX(n, IS, SC)``, checked to belong to the family."""
        IS = check_int("IS", IS, self.IS_min, self.IS_max)
        return TFX(self.n, IS, SC)

    def member_from(self, fields, scale):
        return self.member(fields["IS"], scale)

    def registers(self, fmt):
        self.check_member(fmt)
        return {"IS": fmt.IS, "scale": fmt.SC}

    def widest(self):
        """The member with the largest operands (IS = IS_max)."""
        return TFX(self.n, self.IS_max, 0)

    def unsigned_parent(self):
        return TFXFamily(self.n + 1, self.IS_max, IS_min=self.IS_min)

    def check_member(self, fmt):
        if not (isinstance(fmt, TFX) and fmt.n == self.n and self.IS_min <= fmt.IS <= self.IS_max):
            raise ValueError(f"{fmt!r} is not a member of {self!r}")
        return fmt

    def accumulator_exponent(self, a_scale, w_scale):
        return a_scale + w_scale - 2 * (self.n - 1)

    def encoder_exponent(self, scale):
        return -scale  # the encoder rounds value / 2**SC

    def choose(self, x, *, objective="mse"):
        return search_tfx(x, self.n, objective=objective,
                          IS_range=(self.IS_min, self.IS_max)).format

    def fitting_scale(self, values):
        return int(np.floor(np.log2(np.median(values))))  # TFX is densest around 2**SC

    @property
    def protocol_code(self):
        return 0

    @property
    def protocol_args(self):
        return (self.IS_max, self.IS_min)

    @classmethod
    def from_spec(cls, kind, numbers):
        if kind == "tfx" and len(numbers) in (2, 3):
            return cls(numbers[0], numbers[1], IS_min=numbers[2] if len(numbers) == 3 else 1)
        return None

    @classmethod
    def from_protocol(cls, code, n, args):
        return cls(n, args[0], IS_min=args[1]) if code == 0 else None

    @classmethod
    def holding(cls, fmt):
        return cls(fmt.n, fmt.IS) if isinstance(fmt, TFX) else None

    @property
    def operand_width(self):
        """Bits of the signed integer operand ``X`` (n + IS_max)."""
        return self.n + self.IS_max

    @property
    def min_regime_length(self):
        return 1 if self.IS_min == 1 else 2

    @property
    def fraction_width(self):
        """Most fraction bits of any member's code."""
        return self.n - 1 - self.min_regime_length

    @property
    def significand_width(self):
        """Bits of the significand ``1.f`` (hidden bit included)."""
        return self.fraction_width + 1

    @property
    def exponent_offset(self):
        """Bias of the decoded exponent field: ``X = significand * 2**(exponent - offset)``."""
        return self.IS_max - self.min_regime_length

    @property
    def exponent_count(self):
        """Number of exponent field values (0 .. exponent_count - 1)."""
        return 2 * self.IS_max


class FXPFamily(Family):
    """Every ``FXP(n, F)`` (F from -32 to 32) of one signedness."""

    kind = "fxp"
    forms = ("int", "ses")
    spec_forms = ("fxp:N", "ufxp:N")
    scale_name = "F"
    scale_range = (_fxp.MIN_F, _fxp.MAX_F)

    def __init__(self, n, *, signed=True):
        self._n = check_int("n", n, _fxp.MIN_N, _fxp.MAX_N)
        if not isinstance(signed, bool):
            raise TypeError(f"signed must be a bool, not {signed!r}")
        self.signed = signed

    n = property(lambda self: self._n)

    def __repr__(self):
        return f"FXPFamily(n={self.n}{'' if self.signed else ', signed=False'})"

    def _key(self):
        return ("fxp", self.n, self.signed)

    @property
    def label(self):
        return f"{'FXP' if self.signed else 'UFXP'}{self.n}"

    @property
    def spec(self):
        return f"{'fxp' if self.signed else 'ufxp'}:{self.n}"

    @property
    def has_nar(self):
        return False

    @property
    def fields(self):
        return {}

    @property
    def example_scales(self):
        return (-1, 2, self.n)

    def member(self, F=0):
        return FXP(self.n, F, signed=self.signed)

    def member_from(self, fields, scale):
        return self.member(scale)

    def registers(self, fmt):
        self.check_member(fmt)
        return {"scale": fmt.F}

    def widest(self):
        return FXP(self.n, 0, signed=self.signed)

    def check_member(self, fmt):
        if not (isinstance(fmt, FXP) and fmt.n == self.n and fmt.signed == self.signed):
            raise ValueError(f"{fmt!r} is not a member of {self!r}")
        return fmt

    def accumulator_exponent(self, a_scale, w_scale):
        return -(a_scale + w_scale)

    def encoder_exponent(self, scale):
        return scale  # the encoder rounds value * 2**F

    def choose(self, x, *, objective="mse"):
        return search_fxp(x, self.n, signed=self.signed, objective=objective).format

    def fitting_scale(self, values):
        # The top of the range (2**(n-1-F)) just above most of the values.
        return self.n - 2 - int(np.floor(np.log2(np.quantile(values, 0.9))))

    @property
    def protocol_code(self):
        return 1 if self.signed else 2

    @property
    def protocol_args(self):
        return (0, 0)

    @classmethod
    def from_spec(cls, kind, numbers):
        if kind in ("fxp", "ufxp") and len(numbers) == 1:
            return cls(numbers[0], signed=(kind == "fxp"))
        return None

    @classmethod
    def from_protocol(cls, code, n, args):
        return cls(n, signed=(code == 1)) if code in (1, 2) else None

    @classmethod
    def holding(cls, fmt):
        return cls(fmt.n, signed=fmt.signed) if isinstance(fmt, FXP) else None

    @property
    def operand_width(self):
        return self.n if self.signed else self.n + 1

    # The ses form of fixed point is sign and magnitude (one exponent value): an n-bit
    # unsigned factor, for the iCE40's 8 x 8 split multipliers when the integer needs n + 1.
    exponent_count = 1
    exponent_offset = 0

    @property
    def significand_width(self):
        """Bits of the magnitude ``|X|``: n (signed: up to ``2**(n-1)``; unsigned: up to
        ``2**n - 1``)."""
        return self.n

    widening = "extend"

    def unsigned_parent(self):
        if not self.signed:
            raise TypeError(f"{self.label} is unsigned already")
        return FXPFamily(self.n + 1)


class _ScaleOnlyFamily(Family):
    """Every ``Format(n, p, SC)`` of one build-time parameter ``p``: the scale is the only
    run-time register (posit's es and a minifloat's E fix the hardware's widths)."""

    format_type = None
    #: The build-time parameter's name (and the format's attribute holding it).
    parameter = None
    #: The per-tensor search of SC: ``search(x, n, parameter, objective=)``.
    search = None
    scale_name = "SC"
    example_scales = (-2, 0, 3)

    def __init__(self, n, parameter):
        self._widest = self.format_type(n, parameter, 0)  # checks both
        self._n, self._parameter = n, parameter

    n = property(lambda self: self._n)

    def __repr__(self):
        return f"{type(self).__name__}(n={self.n}, {self.parameter}={self._parameter})"

    def _key(self):
        return (self.kind, self.n, self._parameter)

    def unsigned_parent(self):
        return type(self)(self.n + 1, self._parameter)

    @property
    def spec(self):
        return f"{self.kind}:{self.n},{self._parameter}"

    @property
    def label(self):
        return f"{self.format_type.__name__}{self.n}/{self.parameter}{self._parameter}"

    @property
    def has_nar(self):
        return bool(self._widest.nar_codes)

    @property
    def fields(self):
        return {}

    def member(self, SC=0):
        return self._widest.with_scale(SC)

    def member_from(self, fields, scale):
        return self.member(scale)

    def registers(self, fmt):
        self.check_member(fmt)
        return {"scale": fmt.SC}

    def widest(self):
        return self._widest

    def check_member(self, fmt):
        if not (isinstance(fmt, self.format_type) and fmt.with_scale(0) == self._widest):
            raise ValueError(f"{fmt!r} is not a member of {self!r}")
        return fmt

    @property
    def operand_width(self):
        return self._widest.operand_width

    def accumulator_exponent(self, a_scale, w_scale):
        return a_scale + w_scale + 2 * self._widest.int_exponent

    def encoder_exponent(self, scale):
        return -scale  # the encoder rounds value / 2**SC

    def fitting_scale(self, values):
        return int(np.floor(np.log2(np.median(values))))  # densest around 2**SC

    def choose(self, x, *, objective="mse"):
        return type(self).search(x, self.n, self._parameter, objective=objective).format

    def default_limits(self):
        """A bias of at least 64 bits, and 8 more than the largest product's integer when that
        is wider (FP8 E5M2: 72; at most :data:`golden.arith.MAX_BIAS_BITS`): the accumulator's
        unit is minpos squared (a posit's 2**-24 at n = 8, es = 1; E4M3's smallest subnormal
        squared 2**-18; E5M2's 2**-32), times the scales that the search sets to fit a tensor's
        largest values near maxpos, so a trained layer's bias of about 1 needs 35 to 62 bits
        where TFX's needs about 20, and E5M2's up to about 68."""
        product_bits = (self._widest.max_abs_int ** 2).bit_length()
        return replace(DEFAULT_LIMITS, bias_bits=min(MAX_BIAS_BITS, max(64, product_bits + 8)))

    @property
    def protocol_args(self):
        return (self._parameter, 0)

    @classmethod
    def from_spec(cls, kind, numbers):
        return cls(*numbers) if kind == cls.kind and len(numbers) == 2 else None

    @classmethod
    def from_protocol(cls, code, n, args):
        return cls(n, args[0]) if code == cls.code else None

    @property
    def protocol_code(self):
        return self.code

    @classmethod
    def holding(cls, fmt):
        return cls(fmt.n, getattr(fmt, cls.parameter)) if isinstance(fmt, cls.format_type) \
            else None


class PositFamily(_ScaleOnlyFamily):
    """Every ``Posit(n, es, SC)``, SC from -32 to 32 at run time.

    The ses form holds the significand with its hidden bit, the fraction left-aligned
    (:attr:`fraction_width` bits), and the binade less the lowest one as the exponent field.
    """

    kind = "posit"
    code = 3
    format_type = Posit
    parameter = "es"
    search = staticmethod(search_posit)
    scale_range = (_posit.MIN_SC, _posit.MAX_SC)
    spec_forms = ("posit:N,ES",)

    es = property(lambda self: self._parameter)
    forms = ("int", "ses")

    @property
    def lowest_binade(self):
        """minpos = 2**(lowest_binade + SC): ``-(n - 2) * 2**es``; maxpos is its inverse."""
        return -(self.n - 2) << self.es

    @property
    def fraction_width(self):
        """Most fraction bits of any code: after the shortest regime (2 bits) and ``es``."""
        return max(self.n - 3 - self.es, 0)

    @property
    def significand_width(self):
        return self.fraction_width + 1

    @property
    def exponent_count(self):
        """Binades from minpos's to maxpos's: the ses form's exponent field is the binade
        less :attr:`lowest_binade`."""
        return 1 - 2 * self.lowest_binade

    @property
    def exponent_offset(self):
        """``X = significand * 2**(exponent - offset)``: X counts minposes."""
        return self.fraction_width



class FPFamily(_ScaleOnlyFamily):
    """Every minifloat ``FP(n, E, SC)``, SC from -32 to 32 at run time.

    The ses form holds the significand with its hidden bit (``M + 1`` bits, the hidden bit 0
    for subnormals) and the exponent field ``max(e, 1) - 1`` (``0 .. 2**E - 2``), so that
    ``X = significand << exponent``.
    """

    kind = "fp"
    code = 4
    format_type = FP
    parameter = "E"
    search = staticmethod(search_fp)
    scale_range = (_minifloat.MIN_SC, _minifloat.MAX_SC)
    spec_forms = ("fp:N,E",)
    forms = ("int", "ses")

    E = property(lambda self: self._parameter)

    M = property(lambda self: self._widest.M, doc="Mantissa bits, ``n - 1 - E``.")
    bias = property(lambda self: self._widest.bias, doc="Exponent bias, ``2**(E-1) - 1``.")

    @property
    def significand_width(self):
        return self.M + 1

    @property
    def exponent_count(self):
        return (1 << self.E) - 1

    @property
    def exponent_offset(self):
        return 0



class WithUnsigned(Family):
    """A signed family and its unsigned variants in one build: every member of ``signed`` and
    every unsigned variant (:mod:`golden.unsigned`; UFXP for fixed point), chosen per tensor
    by a run-time field ``unsigned``.

    The hardware holds every operand in the units of :attr:`parent`, the signed family one
    bit wider (:meth:`Family.unsigned_parent`): an unsigned code is the parent's code with
    sign 0, a signed code is widened to the parent's code of the same value
    (:attr:`Family.widening`). So the parent's decoders, multipliers and accumulator serve
    both, and a signed operand's integer is ``2**(signed.int_exponent -
    parent.int_exponent)`` times the signed member's (:meth:`accumulator_shift`). The
    encoder rounds into the member itself: the signed family's encoder, or the parent's for
    an unsigned output, whose negative values become 0.

    Parameters
    ----------
    signed : Family
        A family of signed members that has unsigned variants (TFX, FXP, posit, FP).
    """

    def __init__(self, signed):
        if not isinstance(signed, Family) or isinstance(signed, WithUnsigned):
            raise TypeError(f"signed must be a golden.family.Family of signed members, not "
                            f"{signed!r}")
        if getattr(signed, "signed", True) is False:
            raise ValueError(f"{signed.label} is unsigned already; give its signed family")
        self.signed_family = signed
        self.parent = signed.unsigned_parent()
        self.kind = signed.kind
        self.forms = signed.forms

    n = property(lambda self: self.signed_family.n)
    scale_name = property(lambda self: self.signed_family.scale_name)
    scale_range = property(lambda self: self.signed_family.scale_range)
    example_scales = property(lambda self: self.signed_family.example_scales)
    widening = property(lambda self: self.signed_family.widening)

    def __repr__(self):
        return f"WithUnsigned({self.signed_family!r})"

    def _key(self):
        return ("unsigned", self.signed_family._key())

    @property
    def label(self):
        return f"{self.signed_family.label}+U"

    @property
    def spec(self):
        return f"{self.signed_family.spec}+u"

    @property
    def has_nar(self):
        return self.signed_family.has_nar

    @property
    def fields(self):
        return {**self.signed_family.fields, "unsigned": (0, 1)}

    def member_from(self, fields, scale):
        rest = {name: value for name, value in fields.items() if name != "unsigned"}
        if not fields["unsigned"]:
            return self.signed_family.member_from(rest, scale)
        return unsigned(self.parent.member_from(rest, scale))

    def parent_member(self, fmt):
        """The member of :attr:`parent` with ``fmt``'s registers (its values hold ``fmt``'s)."""
        registers = self.registers(fmt)
        rest = {name: value for name, value in registers.items()
                if name not in ("unsigned", "scale")}
        return self.parent.member_from(rest, registers["scale"])

    def registers(self, fmt):
        self.check_member(fmt)
        if fmt.signed:
            values = {**self.signed_family.registers(fmt), "unsigned": 0}
        else:
            values = {**self.parent.registers(_signed_parent(fmt)), "unsigned": 1}
        return {name: values[name] for name in self.register_names}

    def widest(self):
        """The member with the largest operands in the hardware's units: the unsigned member
        of the parent's widest (every signed operand, widened, is smaller)."""
        return unsigned(self.parent.widest())

    def check_member(self, fmt):
        try:
            if getattr(fmt, "signed", True):
                return self.signed_family.check_member(fmt)
            self.parent.check_member(_signed_parent(fmt))
        except ValueError:
            raise ValueError(f"{fmt!r} is not a member of {self!r}") from None
        return fmt

    @property
    def operand_width(self):
        return self.parent.operand_width

    @property
    def significand_width(self):
        # Fixed point's parent holds -2**n, which no member reaches: the magnitudes of
        # FXP(n) and UFXP(n) fit n bits.
        return self.n if self.kind == "fxp" else self.parent.significand_width

    def __getattr__(self, name):
        # The parent's operand shape (ses form) and its build parameters read through.
        if name in ("exponent_count", "exponent_offset", "IS_max", "IS_min",
                    "min_regime_length", "fraction_width", "lowest_binade"):
            return getattr(self.parent, name)
        raise AttributeError(name)

    def accumulator_exponent(self, a_scale, w_scale):
        return self.parent.accumulator_exponent(a_scale, w_scale)

    def operand_shift(self, fmt):
        return fmt.int_exponent - self.parent_member(fmt).int_exponent

    def encoder_exponent(self, scale):
        return self.signed_family.encoder_exponent(scale)

    def choose(self, x, *, objective="mse"):
        return self.signed_family.choose(x, objective=objective)

    def fitting_scale(self, values):
        return self.signed_family.fitting_scale(values)

    def unsigned_parent(self):
        return self.parent

    def default_limits(self):
        return self.signed_family.default_limits()

    #: Added to the signed family's protocol code in an INFO reply.
    PROTOCOL_FLAG = 0x10

    @property
    def protocol_code(self):
        return self.signed_family.protocol_code | self.PROTOCOL_FLAG

    @property
    def protocol_args(self):
        return self.signed_family.protocol_args

    @classmethod
    def from_spec(cls, kind, numbers):
        return None  # parse_family reads the "+u" suffix

    @classmethod
    def from_protocol(cls, code, n, args):
        if not code & cls.PROTOCOL_FLAG:
            return None
        signed = family_from_protocol(code & ~cls.PROTOCOL_FLAG, n, args)
        return cls(signed)

    @classmethod
    def holding(cls, fmt):
        """The family of ``fmt``'s signed kin at its width, with unsigned variants, for an
        unsigned variant of TFX, posit or FP (unsigned fixed point has its own family)."""
        parent = getattr(fmt, "parent", None)
        if getattr(fmt, "signed", True) or parent is None:
            return None
        parent = _first("holding", parent)
        try:
            signed = (TFXFamily(fmt.n, parent.IS_max) if parent.kind == "tfx"
                      else type(parent)(fmt.n, parent._parameter))
        except ValueError:
            return None  # UTFX(n, IS = n): no signed TFX(n) has that IS
        return cls(signed)


def _signed_parent(fmt):
    """The signed format one bit wider whose nonnegative codes an unsigned format's are (None
    for a format that is none): ``UTFX(n, ...)``'s ``TFX(n + 1, ...)``, UFXP(n, F)'s
    FXP(n + 1, F)."""
    if isinstance(fmt, FXP):
        return FXP(fmt.n + 1, fmt.F)
    return getattr(fmt, "parent", None)


_DEFAULT_FAMILIES = {
    "tfx": lambda n: TFXFamily(n, default_is_max(n)),
    "fxp": lambda n: FXPFamily(n),
    "posit": lambda n: PositFamily(n, default_posit_es(n)),
    "fp": lambda n: FPFamily(n, default_fp_E(n)),
}

#: The format kinds this project builds and studies (:func:`default_family`'s ``kind``).
FORMAT_KINDS = tuple(_DEFAULT_FAMILIES)


def default_family(kind, n):
    """The family of format ``kind`` (``"tfx"``, ``"fxp"``, ``"posit"``, ``"fp"``) at width
    ``n`` that this project builds and studies: TFX with :func:`default_is_max`, signed fixed
    point, posit with :func:`default_posit_es`, the minifloat with :func:`default_fp_E`."""
    if kind not in _DEFAULT_FAMILIES:
        raise ValueError(f"format must be one of {', '.join(map(repr, _DEFAULT_FAMILIES))}, "
                         f"not {kind!r}")
    return _DEFAULT_FAMILIES[kind](n)


#: Every family type, in the order specs and protocol codes are tried.
FAMILY_TYPES = (TFXFamily, FXPFamily, PositFamily, FPFamily, WithUnsigned)


def _first(method, *args):
    for family_type in FAMILY_TYPES:
        family = getattr(family_type, method)(*args)
        if family is not None:
            return family
    return None


def family_of(fmt):
    """The smallest family that holds ``fmt``."""
    family = _first("holding", fmt)
    if family is None:
        raise TypeError(f"Expected a format of a family (TFX, FXP, Posit or FP), not {fmt!r}")
    return family


def family_from_protocol(code, n, args):
    """The family an INFO reply names by its code, width and two parameter bytes."""
    family = _first("from_protocol", code, n, tuple(args))
    if family is None:
        raise ValueError(f"unknown family code {code} in an INFO reply")
    return family


def parse_family(spec):
    """``tfx:N,IS_MAX[,IS_MIN]``, ``fxp:N``, ``ufxp:N``, ``posit:N,ES`` or ``fp:N,E`` to a
    family; a ``+u`` suffix adds the unsigned variants (:class:`WithUnsigned`)."""
    forms = [f"'{form}'" for t in FAMILY_TYPES for form in t.spec_forms]
    expected = ", ".join(forms[:-1]) + " or " + forms[-1]
    if not isinstance(spec, str):
        raise TypeError(f"Family spec must be a string like 'tfx:8,3' or 'fxp:8', not {spec!r}")
    base = spec.strip().lower()
    if base.endswith("+u"):
        family = parse_family(base[:-2])
        try:
            return WithUnsigned(family)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Family spec {spec!r}: {error}") from None
    kind, sep, args = base.partition(":")
    try:
        numbers = [int(part) for part in args.split(",")] if sep else []
    except ValueError:
        numbers = []
    family = _first("from_spec", kind, numbers)
    if family is None:
        raise ValueError(f"Family spec must be {expected}, not {spec!r}")
    return family
