"""Formal checks with SymbiYosys: harnesses of Amaranth ``Assert``/``Assume`` around the
design's components, converted to RTLIL and proven by the pip-installed YoWASP ``sby`` with the
pip-installed Bitwuzla (``make formal``; a short tier runs in ``make test``).

Each check names its mode: ``prove`` (k-induction: holds in every reachable state) or ``bmc``
(holds for every input sequence up to ``depth`` cycles from reset). Inputs the harness does not
constrain are free: the solver picks any value in every cycle.

- ``decoder``: the TFX decoder (int form) equals an independent reference written from the
  format's definition (two's complement, regime run capped at IS, fraction, ``X = (2**nf + f)
  << (k + regime length)``) for every code and every run-time IS; the minifloat decoder
  likewise (sign and magnitude, ``X = f`` for subnormals and ``(2**M + f) << (e - 1)``
  otherwise, the OCP types' NaN and infinity codes NaR), both forms; and the posit decoder
  (regime run over the whole body, exponent bits past the word's end as 0).
- ``mac_forms``: the int-form and ses-form decoding MACs keep equal accumulators and NaR flags
  for every sequence of codes, IS values and controls.
- ``stream_rules``: an offered item stays offered, unchanged, until taken, on the accelerator's
  results stream, the frame executor's three streams (except when it resets the array) and the
  reply framer's byte stream, whatever their inputs do.
- ``crc``: the frame receiver executes a frame exactly when its two CRC bytes equal the
  CRC-16 of KIND, SEQ, LEN and payload, computed by a bit-serial reference, for every frame
  of up to ``max_length`` payload bytes.

Three modules, one job each: :mod:`sim.formal.references` (what the designs must equal),
:mod:`sim.formal.harnesses` (the designs beside their references, with the asserts) and
:mod:`sim.formal.runner` (the checks of each tier, proven by sby).
"""

from .runner import CHECKS, OUT, FormalCheck, checks, run_check

__all__ = ["CHECKS", "OUT", "FormalCheck", "checks", "run_check"]
