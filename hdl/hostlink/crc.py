"""CRC-16/IBM-3740 in hardware, a byte at a time (:func:`hdl.protocol.crc16` in Python)."""

from amaranth.hdl import Mux, Signal

from ..protocol import CRC_POLYNOMIAL

__all__ = ["crc16_step"]


def crc16_step(m, crc, byte, name):
    """CRC-16 of one more byte: a signal, through one signal per bit step (combinational)."""
    value = crc ^ (byte << 8)
    for step in range(8):
        bit = Signal(16, name=f"{name}_{step}")
        m.d.comb += bit.eq(Mux(value[15], (value << 1) ^ CRC_POLYNOMIAL, value << 1)[:16])
        value = bit
    return value
