"""The host link's frame protocol (version 2), shared by the hardware (:mod:`hdl.hostlink`) and
the host client (:mod:`hdl.client`).

Every frame is ``SYNC, KIND, SEQ, LEN (2 bytes, little endian), PAYLOAD (LEN bytes), CRC (2
bytes, little endian)``. CRC is CRC-16/IBM-3740 (the "CCITT-FALSE" CRC: polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR) over KIND, SEQ, LEN and PAYLOAD. Its
polynomial is ``(x + 1)`` times a primitive polynomial of degree 15, so it detects every odd
number of bit errors and every two-bit error in codewords of up to 2**15 - 1 bits: Hamming
distance 4 for frames of up to :data:`MAX_PAYLOAD` payload bytes (and every burst of up to 16
bits). CRC-32 would reach further but costs twice the hardware for lengths this link never
sends. The host starts its frames with 0xA5, the device with 0x5A.

The host sends one frame and waits for its reply (ACK, ERROR or INFO), which echoes the
frame's SEQ; RESULT frames may arrive at any time and carry a running count (mod 256) of the
RESULT frames since the last INFO, RESET or array reset, so a lost one is noticed. The device
remembers the SEQ and reply of the last frame it executed: a frame with that SEQ again (the
host retrying after a lost reply) is answered with the same reply and not executed twice.
INFO is always executed and forgets the remembered SEQ (a new session starts with it).

Host commands and their payloads (items are little-endian bit fields of the accelerator's
stream layouts, each padded to whole bytes):

- ``INFO``: empty; the device replies ``INFO`` (:class:`BuildInfo`: protocol version, build
  parameters and limits).
- ``CONFIG``: exactly one config item; every field is range-checked before it is applied.
- ``WEIGHTS``: one or more weight rows. ``ACTIVATIONS``: one or more activation vectors.
- ``RESET``: empty; resets the array (config, weights and results in flight are lost).

Errors (``ERROR`` payload: code, command). A frame with a bad CRC, a LEN above the build's
``max_payload`` (refused as soon as LEN has arrived, before any CRC could vouch for it), a gap
of more than the timeout inside it, an unknown command, a length that is not a whole number
of items, or an out-of-range config field is dropped whole and changes nothing (CHECKSUM,
TOO_LONG, TRUNCATED, COMMAND, LENGTH, RANGE; the first three may be line damage and
are safe to retry). An activation that breaks a bound the array relies on
(a pass longer than ``depth`` vectors, more K-tiles in one accumulation than ``max_K`` allows,
a pass continuing no accumulation, flags that change within a pass) is not passed on: BOUND,
and the array is reset. A transfer the array cannot take because it waits for something the
host never sent (activations before their weights, a second weight tile with no activations
between) resets the array and answers STALLED; waiting for results to drain into a slow line
is not a stall, however long it takes.
"""

import enum
from dataclasses import dataclass

from golden.arith import ScalingLimits
from golden.family import family_from_protocol, parse_family

__all__ = ["HOST_SYNC", "DEVICE_SYNC", "VERSION", "MAX_PAYLOAD", "HEADER_BYTES", "CRC_BYTES",
           "Command", "Reply", "Error", "crc16", "encode_frame", "FrameDecoder", "BuildInfo",
           "item_bytes", "ProtocolError", "RETRYABLE", "Frame", "INFO_BYTES", "DEFAULT_BAUD",
           "RESIDENT_MARK", "ResidentInfo", "RESIDENT_INFO_BYTES",
           "BAUD_RANGE"]

HOST_SYNC = 0xA5
DEVICE_SYNC = 0x5A
VERSION = 2
#: The UART rate a board is built for (``make synth BAUD=``) and the clients' default.
DEFAULT_BAUD = 1_000_000
#: The rates builds and clients accept.
BAUD_RANGE = (300, 12_000_000)
#: SYNC, KIND, SEQ and the two LEN bytes.
HEADER_BYTES = 5
CRC_BYTES = 2
CRC_POLYNOMIAL = 0x1021
CRC_INIT = 0xFFFF
#: Bits of the longest codeword for which the CRC's Hamming distance is 4 (the period of its
#: primitive factor).
CRC_HD4_BITS = (1 << 15) - 1
#: The longest payload whose frame the CRC protects with Hamming distance 4: KIND, SEQ, LEN,
#: the payload and the CRC itself within :data:`CRC_HD4_BITS`.
MAX_PAYLOAD = (CRC_HD4_BITS - 8 * CRC_BYTES) // 8 - (HEADER_BYTES - 1)


class Command(enum.IntEnum):
    INFO = 0x01
    CONFIG = 0x02
    WEIGHTS = 0x03
    ACTIVATIONS = 0x04
    RESET = 0x05
    #: The resident build's (:class:`ResidentInfo`): a program image begins, a chunk of
    #: it, one image to classify (its last codes), a chunk of an image's first codes.
    LOAD_START = 0x06
    LOAD = 0x07
    RUN = 0x08
    INPUT = 0x09


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
    BOUND = 7
    TOO_LONG = 8
    #: The resident build's: RUN with no program loaded; the program stopped at an
    #: instruction beyond the build; LOAD with no image begun.
    NO_PROGRAM = 9
    LIMIT = 10
    NOT_LOADING = 11
    #: The image was refused: ``16 +`` the loader's reason (:class:`hdl.standalone.loader.
    #: LoadError`).
    IMAGE_MAGIC = 17
    IMAGE_VERSION = 18
    IMAGE_BUILD = 19
    IMAGE_TOO_LARGE = 20
    IMAGE_CRC = 21
    IMAGE_LENGTH = 22


#: Errors for a frame that may have arrived damaged and was not executed: sending it again is
#: safe (and, with the same SEQ, always is).
RETRYABLE = frozenset({Error.CHECKSUM, Error.TRUNCATED, Error.TOO_LONG})


class ProtocolError(Exception):
    """A malformed frame from the device, or one that breaks the protocol."""


def crc16(data, crc=CRC_INIT):
    """CRC-16/IBM-3740 of ``data`` (bytes), continuing from ``crc``."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLYNOMIAL) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode_frame(sync, kind, payload=b"", *, seq=0):
    """One frame: ``sync`` (HOST_SYNC or DEVICE_SYNC), ``kind``, ``seq`` (0 to 255) and up to
    :data:`MAX_PAYLOAD` payload bytes."""
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a frame holds at most {MAX_PAYLOAD} payload bytes, not {len(payload)}")
    if not (isinstance(seq, int) and 0 <= seq <= 255):
        raise ValueError(f"seq must be an integer from 0 to 255, not {seq!r}")
    body = bytes([int(kind), seq, len(payload) & 0xFF, len(payload) >> 8]) + payload
    return bytes([sync]) + body + crc16(body).to_bytes(2, "little")


def item_bytes(bits):
    return (bits + 7) // 8


@dataclass(frozen=True)
class Frame:
    """A frame that passed its CRC."""

    kind: int
    seq: int
    payload: bytes


class FrameDecoder:
    """Incremental decoder of frames starting with ``sync``: :meth:`feed` bytes, get frames.

    A frame is only believed when its CRC holds: a SYNC byte that starts no valid frame (noise,
    a bad CRC, a length above ``max_length``) is dropped and the search goes on from the next
    byte, so frames that follow garbage are found. While a candidate still waits for bytes, a
    complete valid frame that starts later in the buffer is believed at once (a noise SYNC
    with a plausible length cannot hold back the reply after it until more bytes come). The
    price: a genuine frame still arriving whose payload holds a complete frame with a valid
    CRC would lose to it, about a 2**-16 chance per SYNC byte inside a payload, the order of
    a CRC collision; the lost frame is then a timeout and a retry (or a lost RESULT and a
    re-run). ``rejected`` counts the dropped SYNCs.
    """

    def __init__(self, sync, *, max_length=MAX_PAYLOAD):
        self.sync = sync
        self.max_length = max_length
        self.buffer = bytearray()
        self.rejected = 0

    def feed(self, data):
        """Append ``data``; return the complete valid frames (:class:`Frame`), in order."""
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(self.sync)
            if start < 0:
                self.buffer.clear()
                return frames
            del self.buffer[:start]
            state = self._candidate(0)
            if state == "bad":
                self._reject()
                continue
            if state == "wait":
                later = self._later_frame()
                if later is None:
                    return frames
                self.rejected += 1
                del self.buffer[:later]
                continue
            frame, size = state
            del self.buffer[:size]
            frames.append(frame)

    def _candidate(self, at):
        """The frame starting at ``buffer[at]``: ``(Frame, size)``, "bad" or "wait"."""
        buffer = self.buffer
        if len(buffer) < at + HEADER_BYTES:
            return "wait"
        length = buffer[at + 3] | buffer[at + 4] << 8
        if length > self.max_length:
            return "bad"
        end = at + HEADER_BYTES + length
        if len(buffer) < end + CRC_BYTES:
            return "wait"
        body = bytes(buffer[at + 1:end])
        if crc16(body) != int.from_bytes(buffer[end:end + CRC_BYTES], "little"):
            return "bad"
        return Frame(body[0], body[1], body[4:]), end + CRC_BYTES - at

    def _later_frame(self):
        """Where the first complete valid frame after the waiting candidate starts, if any."""
        at = self.buffer.find(self.sync, 1)
        while at >= 0:
            if not isinstance(self._candidate(at), str):
                return at
            at = self.buffer.find(self.sync, at + 1)
        return None

    def _reject(self):
        del self.buffer[:1]
        self.rejected += 1


_SCALINGS = ("per_column", "shared")


def _family_in(payload, at):
    """The family an INFO payload names at byte ``at`` (code, n, two argument bytes)."""
    try:
        return family_from_protocol(payload[at], payload[at + 1], payload[at + 2:at + 4])
    except ValueError as error:
        raise ProtocolError(f"{error}: {payload.hex()}") from None


@dataclass(frozen=True)
class BuildInfo:
    """What a device was built for, as its ``INFO`` reply says (:data:`INFO_BYTES` bytes,
    the first the protocol version)."""

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
    scaling: str = "per_column"
    clocks_per_bit: int = 104
    timeout_bits: int = 200
    #: Block-scaled weights (W-MX): the block size the array was built for (a power of two,
    #: carried as its log2 in the form byte's upper bits), or None; and the largest block
    #: shift (1 to 15, in the scaling byte's upper bits).
    mx_block: int = None
    mx_spread: int = 0

    def stream_layouts(self):
        """The array's stream payload layouts (:func:`hdl.accelerator.stream_layouts`)."""
        from .accelerator import stream_layouts

        return stream_layouts(parse_family(self.family), self.rows, self.cols, self.limits,
                              self.mx_spread if self.mx_block else 0)

    @property
    def limits(self):
        """The build's scaling-register sizes."""
        return ScalingLimits(bias_bits=self.bias_bits, m_bits=self.m_bits,
                             shift_max=self.shift_max)

    @property
    def max_k_tiles(self):
        """K-tiles one accumulation may have (the device refuses more: BOUND)."""
        return -(-self.max_K // self.rows)

    def to_payload(self):
        family = parse_family(self.family)
        block = 0 if self.mx_block is None else self.mx_block.bit_length() - 1
        fields = [(VERSION, 1), (family.protocol_code, 1), (family.n, 1),
                  (bytes(family.protocol_args), None), (int(self.form == "ses") | block << 4, 1),
                  (_SCALINGS.index(self.scaling) | self.mx_spread << 4, 1), (self.rows, 1),
                  (self.cols, 1),
                  (self.depth, 2), (self.max_K, 3), (self.bias_bits, 1), (self.m_bits, 1),
                  (self.shift_max, 1), (self.max_payload, 2), (self.clocks_per_bit, 3),
                  (self.timeout_bits, 3)]
        return b"".join(value if size is None else value.to_bytes(size, "little")
                        for value, size in fields)

    @classmethod
    def from_payload(cls, payload):
        payload = bytes(payload)
        if payload[:2] == bytes([RESIDENT_MARK, VERSION]):
            raise ProtocolError("the device runs the resident (standalone) build, not the "
                                "coprocessor: use tent deploy --resident")
        if len(payload) < 1 or payload[0] != VERSION:
            found = f"version {payload[0]}" if payload else "an empty payload"
            raise ProtocolError(f"the device speaks protocol {found}, this client version "
                                f"{VERSION} (rebuild the bitstream or update the client): "
                                f"{payload.hex()}")
        if len(payload) != INFO_BYTES:
            raise ProtocolError(f"not an INFO payload of protocol version {VERSION} "
                                f"({INFO_BYTES} bytes): {payload.hex()}")
        family = _family_in(payload, 1)
        form, block = payload[5] & 0x0F, payload[5] >> 4
        scaling, spread = payload[6] & 0x0F, payload[6] >> 4
        if form > 1 or scaling >= len(_SCALINGS) or bool(block) != bool(spread):
            raise ProtocolError(f"not an INFO payload (form {form}, scaling "
                                f"{scaling}, block 2**{block}, spread {spread}): "
                                f"{payload.hex()}")

        def number(start, size):
            return int.from_bytes(payload[start:start + size], "little")

        return cls(family.spec, "ses" if form else "int", payload[7], payload[8],
                   number(9, 2), number(11, 3), payload[14], payload[15], payload[16],
                   number(17, 2), _SCALINGS[scaling], number(19, 3), number(22, 3),
                   1 << block if block else None, spread)


INFO_BYTES = 25
#: The first byte of a resident build's INFO payload (a coprocessor's is :data:`VERSION`).
RESIDENT_MARK = 0x52


@dataclass(frozen=True)
class ResidentInfo:
    """What a resident (standalone) build holds, as its ``INFO`` reply says
    (:data:`RESIDENT_INFO_BYTES` bytes, :data:`RESIDENT_MARK` and :data:`VERSION` first),
    and the state of its program: ``loaded`` (a whole image whose CRC held), the loader's
    last refusal ``load_error`` (0: none) and the program's ``crc`` (its image's CRC-32)."""

    family: str
    lanes: int
    depth: int
    max_K: int
    bias_bits: int
    m_bits: int
    shift_max: int
    instructions: int
    records: int
    address_bits: int
    max_window: int
    max_align: int
    size_bits: int
    channel_bits: int
    max_payload: int
    clocks_per_bit: int
    timeout_bits: int
    loaded: bool = False
    load_error: int = 0
    crc: int = 0

    _FIELDS = (("lanes", 1), ("depth", 2), ("max_K", 3), ("bias_bits", 1), ("m_bits", 1),
               ("shift_max", 1), ("instructions", 2), ("records", 2), ("address_bits", 1),
               ("max_window", 2), ("max_align", 1), ("size_bits", 1), ("channel_bits", 1),
               ("max_payload", 2), ("clocks_per_bit", 3), ("timeout_bits", 3))

    @property
    def limits(self):
        return ScalingLimits(bias_bits=self.bias_bits, m_bits=self.m_bits,
                             shift_max=self.shift_max)

    def build_payload(self):
        """The payload's fixed part: mark, version, family, then the build's sizes."""
        family = parse_family(self.family)
        return (bytes([RESIDENT_MARK, VERSION, family.protocol_code, family.n,
                       *family.protocol_args])
                + b"".join(getattr(self, name).to_bytes(size, "little")
                           for name, size in self._FIELDS))

    def to_payload(self):
        return (self.build_payload() + bytes([int(self.loaded), self.load_error])
                + self.crc.to_bytes(4, "little"))

    @classmethod
    def from_payload(cls, payload):
        payload = bytes(payload)
        if payload[:2] != bytes([RESIDENT_MARK, VERSION]):
            raise ProtocolError(f"not the INFO of a resident build of protocol version "
                                f"{VERSION} (is the board running the coprocessor build?): "
                                f"{payload.hex()}")
        if len(payload) != RESIDENT_INFO_BYTES:
            raise ProtocolError(f"a resident INFO payload is {RESIDENT_INFO_BYTES} bytes, not "
                                f"{len(payload)}: {payload.hex()}")
        family = _family_in(payload, 2)
        values, at = {}, 6
        for name, size in cls._FIELDS:
            values[name] = int.from_bytes(payload[at:at + size], "little")
            at += size
        return cls(family.spec, **values, loaded=bool(payload[at]), load_error=payload[at + 1],
                   crc=int.from_bytes(payload[at + 2:at + 6], "little"))


RESIDENT_INFO_BYTES = 6 + sum(size for _, size in ResidentInfo._FIELDS) + 6
