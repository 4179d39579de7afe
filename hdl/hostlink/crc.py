"""CRC-8 (polynomial 0x07) in hardware, a byte at a time (:func:`hdl.protocol.crc8` in Python)."""

from amaranth.hdl import Mux, Signal

__all__ = ["crc8_step"]


def crc8_step(m, crc, byte, name):
    """CRC-8 of one more byte: a signal, through one signal per bit step (combinational)."""
    value = crc ^ byte
    for step in range(8):
        bit = Signal(8, name=f"{name}_{step}")
        m.d.comb += bit.eq(Mux(value[7], (value << 1) ^ 0x07, value << 1)[:8])
        value = bit
    return value
