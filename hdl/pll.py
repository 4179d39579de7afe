"""The iCE40's SB_PLL40 in simple feedback mode: its divider settings for a wanted clock.

The rules are the iCE40 sysCLOCK PLL's (Lattice TN1251): the reference divided by ``DIVR + 1``
must lie in 10 to 133 MHz, times ``DIVF + 1`` (the VCO) in 533 to 1066 MHz, and the VCO divided
by ``2**DIVQ`` is the output, 16 to 275 MHz; the loop filter range follows the divided
reference.
"""

from dataclasses import dataclass

__all__ = ["PLLSettings", "ice40_pll_settings", "OUTPUT_MHZ"]

#: The output frequencies the PLL can make, MHz.
OUTPUT_MHZ = (16, 275)
_PFD_MHZ = (10, 133)
_VCO_MHZ = (533, 1066)
# Upper ends of the divided reference for FILTER_RANGE 1, 2, ... (TN1251's table).
_FILTER_LIMITS_MHZ = (17, 26, 44, 66, 101)


@dataclass(frozen=True)
class PLLSettings:
    """Divider settings of an SB_PLL40 and the frequency they make (``output_hz``)."""

    divr: int
    divf: int
    divq: int
    filter_range: int
    reference_hz: float
    output_hz: float

    @property
    def parameters(self):
        """The instance parameters of ``SB_PLL40_PAD`` / ``_CORE``."""
        return {"p_FEEDBACK_PATH": "SIMPLE", "p_DIVR": self.divr, "p_DIVF": self.divf,
                "p_DIVQ": self.divq, "p_FILTER_RANGE": self.filter_range}


def ice40_pll_settings(reference_hz, output_hz):
    """The settings whose output is closest to ``output_hz`` from a ``reference_hz`` clock
    (ties: the lowest VCO); a ``ValueError`` naming the range for a frequency out of reach."""
    for name, value in (("reference", reference_hz), ("output", output_hz)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"the PLL's {name} frequency must be a positive number of Hz, "
                             f"not {value!r}")
    low, high = OUTPUT_MHZ
    if not low * 1e6 <= output_hz <= high * 1e6:
        raise ValueError(f"the iCE40 PLL makes {low} to {high} MHz, not "
                         f"{output_hz / 1e6:g} MHz")
    best = None
    for divr in range(16):
        pfd = reference_hz / (divr + 1)
        if not _PFD_MHZ[0] * 1e6 <= pfd <= _PFD_MHZ[1] * 1e6:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not _VCO_MHZ[0] * 1e6 <= vco <= _VCO_MHZ[1] * 1e6:
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                key = (abs(out - output_hz), vco)
                if low * 1e6 <= out <= high * 1e6 and (best is None or key < best[0]):
                    best = key, (divr, divf, divq, pfd, out)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting reaches {output_hz / 1e6:g} MHz from a "
                         f"{reference_hz / 1e6:g} MHz reference (the divided reference must "
                         f"lie in {_PFD_MHZ[0]} to {_PFD_MHZ[1]} MHz)")
    divr, divf, divq, pfd, out = best[1]
    filter_range = 1 + sum(pfd >= limit * 1e6 for limit in _FILTER_LIMITS_MHZ)
    return PLLSettings(divr=divr, divf=divf, divq=divq, filter_range=filter_range,
                       reference_hz=reference_hz, output_hz=out)
