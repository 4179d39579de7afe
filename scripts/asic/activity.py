"""Switching activity from a simulation's waveform: toggles per net bit, read with pywellen.

The simulation writes the waveform through :func:`dump_module`, one ``$dumpvars(1, scope)``
per design instance: the nets of the design's own modules, not the insides of the library's
cell models. :func:`read_toggles` counts, for every bit of every dumped variable, its 0↔1
transitions; changes from or to x/z are not transitions (power-up and reset), and only the
value at the end of each time step is seen: a zero-delay simulation has no glitches, so the
counts are glitch-free lower bounds of a real circuit's.
"""

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["dump_module", "read_toggles", "Activity"]


def dump_module(scopes, filename, *, name="tent_activity_dump"):
    """Verilog of a top-level module that dumps every variable of each scope in ``scopes``
    (hierarchical instance paths from the top, e.g. ``"top.core.pe_0_0"``), one level deep;
    instance names that are not plain Verilog identifiers are escaped."""
    lines = [f"module {name};", "  initial begin", f'    $dumpfile("{filename}");']
    lines += [f"    $dumpvars(1, {_verilog_path(scope)});" for scope in scopes]
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


# Words an instance name must not be unescaped (the ones a generator is likely to use).
_KEYWORDS = {"signed", "unsigned", "input", "output", "wire", "reg", "module", "begin", "end",
             "case", "default", "function", "task", "event", "table", "specify"}


def _verilog_path(scope):
    return ".".join(part if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", part)
                    and part not in _KEYWORDS else f"\\{part} " for part in scope.split("."))


@dataclass
class Activity:
    """Toggles per bit (LSB first) of every variable, by (scope, name); ``end_time`` in the
    waveform's time unit (``timescale`` seconds)."""

    toggles: dict
    end_time: int
    timescale: float

    def bit(self, scope, name, index):
        """Toggles of bit ``index`` of ``name`` in ``scope`` (a name as the netlist spells it,
        escaped or not); None when that variable was not dumped."""
        counts = self.toggles.get((scope, _normalise(name)))
        return None if counts is None else int(counts[index])

    def of_nets(self, names):
        """A function from net to its toggles, given ``names[net]`` = [(scope, name, bit),
        ...] (:class:`scripts.energy.GateNetlist`): the first name that was dumped; an error
        naming the net when none was."""
        def toggles(net):
            for scope, name, index in names.get(net, ()):
                count = self.bit(scope, name, index)
                if count is not None:
                    return count
            raise KeyError(f"net {net} ({names.get(net, 'no name')}) is not in the waveform")
        return toggles

    @property
    def seconds(self):
        return self.end_time * self.timescale


def _bit_toggles(values, width):
    """Per-bit transitions of a sequence of values (ints, or strings with x/z)."""
    counts = np.zeros(width, dtype=np.int64)
    if width == 1:
        # Recorded changes between 0 and 1 are transitions; x/z (strings) break the chain.
        counts[0] = sum(1 for a, b in zip(values, values[1:])
                        if a.__class__ is int and b.__class__ is int and a != b)
        return counts
    known = [v if isinstance(v, int) else None for v in values]
    if width <= 62:
        pairs = [(a, b) for a, b in zip(known, known[1:]) if a is not None and b is not None]
        if not pairs:
            return counts
        a, b = np.array(pairs, dtype=np.int64).T
        changed = (a ^ b).astype("<u8").view(np.uint8).reshape(-1, 8)
        bits = np.unpackbits(changed, axis=1, bitorder="little")
        return bits.sum(axis=0)[:width].astype(np.int64)
    for a, b in zip(known, known[1:]):
        if a is not None and b is not None:
            x = a ^ b
            while x:
                low = x & -x
                counts[low.bit_length() - 1] += 1
                x ^= low
    return counts


def _normalise(name):
    return name[1:] if name.startswith("\\") else name


def read_toggles(path):
    """:class:`Activity` of a VCD or FST file."""
    import pywellen

    wave = pywellen.Waveform(str(path))
    toggles = {}
    end = 0
    for var in wave.all_vars():
        changes = list(var.tv)
        if changes:
            end = max(end, changes[-1][0])
        full = var.full_name
        scope = full[:len(full) - len(var.name) - 1]
        toggles[(scope, _normalise(var.name))] = _bit_toggles([v for _, v in changes],
                                                              var.bitwidth)
    exponent = {"fs": -15, "ps": -12, "ns": -9, "us": -6, "ms": -3, "s": 0}
    timescale = wave.timescale
    scale = timescale.factor * 10.0 ** exponent[str(timescale.unit).split(".")[-1].lower()]
    return Activity(toggles, end, scale)
