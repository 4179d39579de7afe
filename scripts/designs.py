"""The designs the reports compare, in one place.

A design is a format kind at width n with an operand form; :data:`DESIGNS` lists them and
:data:`ASIC`, :data:`FPGA` and :data:`ALL` say which ones each study compares:

- standard cells (``make report``): TFX in the sign/exponent/significand form (short
  significand multipliers, the smaller form in gates, see ``make area``) against FXP;
- FPGA (``make synth``, ``make synth-sweep``, ``make e2e``): both in the integer form, whose
  multipliers map to DSP blocks;
- components and cycles (``make area``, ``make perf``): all of them, posit and the minifloats
  (in the ses form, at the exponent size and width the quantization study uses) included.

Every design's formats are the ones its quantization-study scheme (:mod:`golden.ptq`) picks,
and one DSP policy serves every format (:func:`dsp_pes`, :func:`scaling_on_dsps`).
"""

from dataclasses import dataclass

from golden.family import (FORMAT_KINDS, FPFamily, PositFamily, TFXFamily, WithUnsigned,
                           default_family,
                           parse_family)
from hdl.dsp import SPLIT_WIDTH
from hdl.operand import factor_shape

__all__ = ["Design", "DESIGNS", "ASIC", "ENERGY", "FPGA", "ALL", "design", "family_for", "dsp_pes",
           "dsp_blocks_bound", "scaling_on_dsps", "fpga_form", "format_key", "key_kind",
           "key_label", "key_order", "spec_stem", "family_variants", "variant_name",
           "scheme_build", "design_key", "key_format", "build_schemes", "build_label"]

def family_for(kind, n, is_max=None, *, unsigned=False):
    """The hardware family of format ``kind`` (``"tfx"``, ``"fxp"``, ``"posit"``, ``"fp"``) at
    width ``n``: :func:`golden.family.default_family`, or TFX with ``is_max`` when given; with
    ``unsigned``, the same with its unsigned variants (:class:`golden.family.WithUnsigned`)."""
    family = (TFXFamily(n, is_max) if kind == "tfx" and is_max is not None
              else default_family(kind, n))
    return WithUnsigned(family) if unsigned else family


def format_key(family):
    """The key of a family's figures in every record (energy rows, accuracy, the answer): its
    kind for the family this project builds at its width (:func:`family_for`), else its spec
    (``"fp:8,5"``, ``"posit:8,0"``)."""
    return family.kind if family == family_for(family.kind, family.n) else family.spec


def spec_stem(family):
    """A family's spec as a file-name stem: ``"tfx8_3"``, ``"posit8_0"``."""
    return family.spec.replace(":", "").replace(",", "_")


def scheme_build(scheme):
    """What the array that runs ``scheme`` adds to its family's plain design, as the suffix of
    its :func:`design_key`: ``"+u"`` (unsigned activation variants), ``"+mx32"`` or
    ``"+mx16"`` (block shifters for weights block-scaled in blocks of 32 or 16), else ``""``;
    None for a full-MX scheme, which no design runs."""
    from golden.ptq import (FULL_MX_SCHEMES, MX_SCHEMES, UNSIGNED_SCHEMES, mx_format,
                            scheme_family)

    if scheme in FULL_MX_SCHEMES:
        return None
    if scheme in UNSIGNED_SCHEMES:
        return "+u"
    if scheme in MX_SCHEMES:
        return f"+mx{mx_format(scheme, scheme_family(scheme, 8)).block}"
    return ""


def design_key(scheme, family):
    """The key of the design that runs ``scheme`` on ``family`` in the energy record: the
    family's :func:`format_key` and the scheme's :func:`scheme_build` (``"tfx"``,
    ``"tfx+u"``, ``"fxp+mx32"``, ``"posit:8,0+u"``); None when no design runs it."""
    build = scheme_build(scheme)
    return None if build is None else format_key(family) + build


def build_schemes():
    """(kind, build suffix, scheme) of every build beyond the plain designs that ``make
    report`` measures: each unsigned and W-MX scheme of :mod:`golden.ptq` on its kind's
    default family, for every kind of :data:`ENERGY` (the other exponent sizes' builds are
    not measured: their schemes are priced on their plain designs)."""
    from golden.ptq import MX_SCHEMES, UNSIGNED_SCHEMES, scheme_kind

    kinds = {d.kind for d in ENERGY}
    return [(scheme_kind(s), scheme_build(s), s) for s in UNSIGNED_SCHEMES + MX_SCHEMES
            if scheme_kind(s) in kinds]


def key_format(key):
    """The :func:`format_key` of a :func:`design_key` (its build suffix dropped)."""
    return key.partition("+")[0]


def key_kind(key):
    """The format kind of a :func:`format_key` or :func:`design_key`."""
    return key_format(key).partition(":")[0]


_BUILD_LABELS = {"": "", "+u": " +U", "+mx32": " W-MX32", "+mx16": " W-MX16"}


def build_label(key):
    """The build part of a :func:`design_key` in tables (``" +U"``, ``" W-MX32"``; ``""`` for
    a plain design)."""
    return _BUILD_LABELS[key[len(key_format(key)):]]


def key_label(key):
    """A :func:`format_key` or :func:`design_key` in tables: ``"TFX"``, ``"POSIT"``, the
    family's label (``"FP8/E5"``), then the build (``"TFX +U"``, ``"FXP W-MX32"``)."""
    fmt = key_format(key)
    return ((fmt.upper() if fmt == key_kind(fmt) else parse_family(fmt).label)
            + build_label(key))


def key_order(key):
    """Sorts design keys by kind (:data:`golden.family.FORMAT_KINDS`), the default family
    first, the plain design before its builds."""
    fmt = key_format(key)
    return (FORMAT_KINDS.index(key_kind(key)), fmt != key_kind(fmt), fmt,
            list(_BUILD_LABELS).index(key[len(fmt):]))


#: The other exponent sizes the studies run beside each kind's default, by width: posit with
#: es = 0 (TFX with an uncapped regime) at every width, and the OCP types' second ones.
_OCP_SECOND_E = {6: 3, 8: 5}


def family_variants(n):
    """The other families of posit and FP the accuracy study and ``make report`` measure at
    width ``n``: ``Posit(n, 0)``, and FP6 E3M2 at n = 6 and FP8 E5M2 at n = 8."""
    others = [PositFamily(n, 0)] + ([FPFamily(n, _OCP_SECOND_E[n])] if n in _OCP_SECOND_E
                                    else [])
    return [f for f in others if f != default_family(f.kind, n)]


def variant_name(scheme, family):
    """A scheme's name in tables and plots when it picks from another family than its kind's
    default: ``"posit (es0)"``, ``"fp-channel (E5)"``; the bare scheme for the default."""
    if format_key(family) == family.kind:
        return scheme
    return f"{scheme} ({family.parameter}{getattr(family, family.parameter)})"


@dataclass(frozen=True)
class Design:
    """One compared design.

    ``kind`` is the format (and the key of its figures in every record), ``form`` the operand
    form of its PEs, ``label`` its name in tables, ``scheme`` the quantization-study scheme
    whose formats it runs.
    """

    kind: str
    form: str
    label: str
    scheme: str

    def family(self, n, is_max=None):
        return family_for(self.kind, n, is_max)


DESIGNS = (
    Design("tfx", "ses", "TFX ses", "tfx"),
    Design("tfx", "int", "TFX int", "tfx"),
    Design("fxp", "int", "FXP", "fxp-layer"),
    Design("posit", "ses", "Posit ses", "posit"),
    Design("fp", "ses", "FP ses", "fp"),
)


def design(kind, form):
    """The design of format ``kind`` in operand ``form``."""
    for d in DESIGNS:
        if (d.kind, d.form) == (kind, form):
            return d
    raise ValueError(f"no design of format {kind!r} in form {form!r}; designs: "
                     f"{', '.join(f'{d.kind}/{d.form}' for d in DESIGNS)}")


ASIC = (design("tfx", "ses"), design("fxp", "int"))
#: Every format on standard cells (``make report``'s every-format rows): :data:`ASIC` and
#: posit and the minifloat in the ses form.
ENERGY = (*ASIC, design("posit", "ses"), design("fp", "ses"))
FPGA = (design("tfx", "int"), design("fxp", "int"))
ALL = DESIGNS


def dsp_pes(rows, cols, dsps, use_dsps=True, split=False):
    """The DSP policy, the same for every format: the first ``min(rows * cols, dsps)`` PEs in
    row-major order keep inferred multipliers (mapped to DSP blocks), or with ``split`` the
    first ``min(rows * cols, 2 * dsps)`` share the blocks' 8x8 halves, two per block; every
    other PE gets a fabric multiplier (the scaling stages: :func:`scaling_on_dsps`). Without
    DSPs, none."""
    return min(rows * cols, dsps * (2 if split else 1)) if use_dsps else 0


def dsp_blocks_bound(a_bits, b_bits, block_bits):
    """At most how many DSP blocks of ``block_bits`` x ``block_bits`` multiplies synthesis
    maps an ``a_bits`` x ``b_bits`` product to: ``ceil(a / block) * ceil(b / block)``. Yosys
    cuts a wide product into such tiles and leaves thin remainders to the fabric (checked
    against Yosys in ``tests/test_synth_flow.py``)."""
    return -(-a_bits // block_bits) * -(-b_bits // block_bits)


def scaling_on_dsps(*, pes_on_dsps, dsps, block_bits, acc_bits, m_bits, stages, split=False):
    """The DSP policy's second half, the same for every format: the scaling stages' multiplies
    by M (``acc_bits`` x ``m_bits``, one per stage) get inferred multipliers when the DSP
    blocks the PEs leave hold all of them (:func:`dsp_blocks_bound` each), else fabric
    ones."""
    used = -(-pes_on_dsps // 2) if split else pes_on_dsps
    return dsps - used >= stages * dsp_blocks_bound(acc_bits, m_bits, block_bits)


def fpga_form(kind, n, is_max=None, *, split=False, unsigned=False):
    """The operand form of an FPGA build of format ``kind``: its :data:`FPGA` design's (posit
    and FP, which have none: their :data:`ENERGY` design's, ses), or with ``split`` DSPs the
    first of the family's forms whose factors fit an 8x8 half (TFX: ses)."""
    family = family_for(kind, n, is_max, unsigned=unsigned)
    preferred = next((d.form for d in (*FPGA, *ENERGY) if d.kind == kind), family.forms[0])
    for form in (preferred, *(f for f in family.forms if f != preferred)):
        if not split or factor_shape(family, form).width <= SPLIT_WIDTH:
            return form
    raise ValueError(f"no operand form of {family.label} has factors of at most {SPLIT_WIDTH} "
                     f"bits for split DSPs")
