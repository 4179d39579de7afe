"""Helpers shared by the cocotb testbenches: parameters, clock, operand unpacking, scoreboards."""

import json
import os

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.family import parse_family

__all__ = ["CLOCK_PERIOD_NS", "params", "family_from", "drive_member", "ClockedBench", "unpack",
           "Scoreboard"]


CLOCK_PERIOD_NS = 10  # the benches' clock


def params():
    """The JSON parameters the pytest runner passed in ``TENT_PARAMS`` (or, when large, in
    the file ``TENT_PARAMS_FILE`` names)."""
    if "TENT_PARAMS_FILE" in os.environ:
        with open(os.environ["TENT_PARAMS_FILE"]) as f:
            return json.load(f)
    return json.loads(os.environ["TENT_PARAMS"])


def family_from(p, key="family"):
    return parse_family(p[key])


def drive_member(dut, family, fmt, prefix="", *, scale=True):
    """Drive the run-time registers of member ``fmt`` onto the ports ``<prefix><field>`` (and
    ``<prefix>scale`` unless ``scale`` is false)."""
    for name, value in family.registers(fmt).items():
        if scale or name != "scale":
            getattr(dut, f"{prefix}{name}").value = value


def unpack(raw, layout):
    """Split the integer ``raw`` of a flattened ``data.StructLayout`` port into its fields."""
    fields = {}
    for name, field in layout:
        value = (raw >> field.offset) & ((1 << field.width) - 1)
        if field.shape.signed and value >> (field.width - 1):
            value -= 1 << field.width
        fields[name] = value
    return fields


class ClockedBench:
    """Owns the clock and reset of an Amaranth ``sync`` design (ports ``clk`` and ``rst``).

    Inputs are driven and outputs sampled at the falling edge, half a cycle away from the
    registers' rising edge, so every value read has settled.
    """

    def __init__(self, dut, period_ns=CLOCK_PERIOD_NS):
        self.dut = dut
        self.clock = Clock(dut.clk, period_ns, unit="ns")

    async def start(self):
        self.clock.start()
        self.dut.rst.value = 1
        await FallingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def cycle(self):
        await FallingEdge(self.dut.clk)


class Scoreboard:
    """Collects (what, got, expected) and fails with the first few mismatches."""

    def __init__(self, name):
        self.name = name
        self.checked = 0
        self.mismatched = 0
        self.mismatches = []  # the first few, for the failure message

    def compare(self, got, expected, context):
        got, expected = np.asarray(got), np.asarray(expected)
        assert got.shape == expected.shape, f"{self.name}: {got.shape} results, expected {expected.shape}"
        bad = np.flatnonzero(got != expected)
        self.checked += got.size
        for i in bad[:5]:
            self.mismatches.append((context[i] if context is not None else i, got.flat[i],
                                    expected.flat[i]))
        self.mismatched += bad.size

    def check(self, log=None):
        if log is not None:
            log.info("%s: %d results checked, %d mismatches", self.name, self.checked,
                     self.mismatched)
        assert self.checked > 0, f"{self.name}: nothing was checked"
        assert not self.mismatched, (f"{self.name}: {self.mismatched} of {self.checked} "
                                     f"differ from the golden model, e.g. {self.mismatches[:5]}")
