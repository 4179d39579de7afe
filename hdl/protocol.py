"""The host link's frame protocol, shared by the hardware (:mod:`hdl.hostlink`) and the host
client (:mod:`hdl.client`).

Every frame is ``SYNC, KIND, LEN (2 bytes, little endian), PAYLOAD (LEN bytes), CRC`` where CRC
is CRC-8 (polynomial 0x07, initial value 0) over KIND, LEN and PAYLOAD. The host starts its
frames with 0xA5, the device with 0x5A. The host sends one frame and waits for its ACK or
ERROR before the next; RESULT frames may arrive at any time.

Host commands and their payloads (items are little-endian bit fields of the accelerator's
stream layouts, each padded to whole bytes):

- ``INFO``: empty; the device replies ``INFO`` (:class:`BuildInfo`).
- ``CONFIG``: exactly one config item; every field is range-checked before it is applied.
- ``WEIGHTS``: one or more weight rows. ``ACTIVATIONS``: one or more activation vectors.
- ``RESET``: empty; resets the array (config, weights and results in flight are lost).

Errors (``ERROR`` payload: code, command): a frame with a bad CRC, an unknown command, a bad
length, a gap of more than the timeout inside it, or an out-of-range config field is dropped
whole and changes nothing. A transfer the array does not take within the stall limit (the
host broke the streams' order) resets the array and replies ``STALLED``.
"""

import enum
from dataclasses import dataclass

from golden.arith import ScalingLimits
from golden.family import family_from_protocol, parse_family

__all__ = ["HOST_SYNC", "DEVICE_SYNC", "Command", "Reply", "Error", "crc8", "encode_frame",
           "FrameDecoder", "BuildInfo", "item_bytes", "ProtocolError"]

HOST_SYNC = 0xA5
DEVICE_SYNC = 0x5A
VERSION = 1


class Command(enum.IntEnum):
    INFO = 0x01
    CONFIG = 0x02
    WEIGHTS = 0x03
    ACTIVATIONS = 0x04
    RESET = 0x05


class Reply(enum.IntEnum):
    ACK = 0x80
    RESULT = 0x81
    INFO = 0x82
    ERROR = 0xEE


class Error(enum.IntEnum):
    CHECKSUM = 1
    COMMAND = 2
    LENGTH = 3
    TRUNCATED = 4
    RANGE = 5
    STALLED = 6


class ProtocolError(Exception):
    """A malformed frame from the device."""


def crc8(data, crc=0):
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_frame(sync, kind, payload=b""):
    payload = bytes(payload)
    if len(payload) > 0xFFFF:
        raise ValueError(f"a frame holds at most 65535 payload bytes, not {len(payload)}")
    body = bytes([int(kind), len(payload) & 0xFF, len(payload) >> 8]) + payload
    return bytes([sync]) + body + bytes([crc8(body)])


def item_bytes(bits):
    return (bits + 7) // 8


class FrameDecoder:
    """Incremental decoder of frames starting with ``sync``: :meth:`feed` bytes, get frames.

    A frame is only believed when its CRC holds: a SYNC byte that starts no valid frame (noise,
    a bad CRC, a length above ``max_length``) is dropped and the search goes on from the next
    byte, so frames that follow garbage are found. ``rejected`` counts the dropped SYNCs.
    """

    def __init__(self, sync, *, max_length=0xFFFF):
        self.sync = sync
        self.max_length = max_length
        self.buffer = bytearray()
        self.rejected = 0

    def feed(self, data):
        """Append ``data``; return the complete valid frames as ``(kind, payload)``."""
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(self.sync)
            if start < 0:
                self.buffer.clear()
                return frames
            del self.buffer[:start]
            if len(self.buffer) < 4:
                return frames
            length = self.buffer[2] | self.buffer[3] << 8
            if length > self.max_length:
                self._reject()
                continue
            if len(self.buffer) < 5 + length:
                return frames
            body, crc = bytes(self.buffer[1:4 + length]), self.buffer[4 + length]
            if crc8(body) != crc:
                self._reject()
                continue
            del self.buffer[:5 + length]
            frames.append((body[0], body[3:]))

    def _reject(self):
        del self.buffer[:1]
        self.rejected += 1


@dataclass(frozen=True)
class BuildInfo:
    """What a device was built for, as its ``INFO`` reply says (18 bytes)."""

    family: str  # spec, e.g. "tfx:8,3"
    form: str
    rows: int
    cols: int
    depth: int
    max_K: int
    bias_bits: int
    m_bits: int
    shift_max: int
    max_payload: int

    @property
    def limits(self):
        """The build's scaling-register sizes."""
        return ScalingLimits(bias_bits=self.bias_bits, m_bits=self.m_bits,
                             shift_max=self.shift_max)

    def to_payload(self):
        family = parse_family(self.family)
        return bytes([VERSION, family.protocol_code, family.n, *family.protocol_args,
                      int(self.form == "ses"), self.rows, self.cols,
                      self.depth & 0xFF, self.depth >> 8, self.max_K & 0xFF,
                      (self.max_K >> 8) & 0xFF, self.max_K >> 16, self.bias_bits, self.m_bits,
                      self.shift_max, self.max_payload & 0xFF, self.max_payload >> 8])

    @classmethod
    def from_payload(cls, payload):
        if len(payload) != 18 or payload[0] != VERSION:
            raise ProtocolError(f"not an INFO payload of protocol version {VERSION}: "
                                f"{bytes(payload).hex()}")
        try:
            family = family_from_protocol(payload[1], payload[2], payload[3:5])
        except ValueError as error:
            raise ProtocolError(f"{error}: {bytes(payload).hex()}") from None
        return cls(family.spec, "ses" if payload[5] else "int", payload[6], payload[7],
                   payload[8] | payload[9] << 8, payload[10] | payload[11] << 8 |
                   payload[12] << 16, payload[13], payload[14], payload[15],
                   payload[16] | payload[17] << 8)
