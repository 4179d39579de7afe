"""The host client and its frame decoder against misbehaving lines: noise, stray SYNCs, bad
CRCs, unknown frames, silence, unknown errors, a missing port. Pure Python, no device."""

import asyncio
import random

import pytest
from hypothesis import given, settings, strategies as st

from hdl.client import DeviceError, HostClient
from hdl.protocol import (DEVICE_SYNC, BuildInfo, Command, Error, FrameDecoder, ProtocolError,
                          Reply, encode_frame)


class ScriptedLine:
    """A transport on a virtual clock: ``chunks`` of (seconds after the previous, bytes)
    arrive in order; ``forever`` (a function of the clock) keeps sending after them."""

    def __init__(self, chunks=(), forever=None):
        self.chunks = list(chunks)
        self.forever = forever
        self.now = 0.0
        self.sent = []

    def clock(self):
        return self.now

    async def write(self, data):
        self.sent.append(bytes(data))

    async def read(self, timeout):
        if self.chunks:
            delay, data = self.chunks[0]
            if delay <= timeout:
                self.chunks.pop(0)
                self.now += delay
                return data
            self.chunks[0] = (delay - timeout, data)
        elif self.forever is not None:
            delay, data = self.forever(self.now)
            if delay <= timeout:
                self.now += delay
                return data
        self.now += timeout
        return b""


def frame(kind, payload=b""):
    return encode_frame(DEVICE_SYNC, kind, payload)


def ack(command=Command.RESET):
    return frame(Reply.ACK, bytes([command]))


def run(client, coroutine):
    return asyncio.run(coroutine)


def test_continuous_noise_times_out_on_the_deadline():
    rng = random.Random(1)
    line = ScriptedLine(forever=lambda now: (0.01, bytes(rng.randrange(256) for _ in range(64))))
    client = HostClient(line, timeout=0.5)
    with pytest.raises(TimeoutError, match="no reply from the device within 0.5 s"):
        asyncio.run(client.reset())
    assert 0.5 <= line.now <= 0.52  # not a moment longer, however much noise came


def test_frames_of_unknown_kinds_do_not_move_the_deadline():
    line = ScriptedLine(forever=lambda now: (0.1, frame(0x99, b"\x01")))
    with pytest.raises(TimeoutError):
        asyncio.run(HostClient(line, timeout=0.5).reset())
    assert line.now <= 0.6


def test_a_stray_sync_with_a_long_length_does_not_swallow_the_reply():
    line = ScriptedLine([(0.01, bytes([DEVICE_SYNC, 0x80, 0xFF, 0x0F, 0x11])), (0.01, ack())])
    client = HostClient(line, timeout=1.0)
    asyncio.run(client.reset())
    assert client.decoder.rejected == 1 and line.now < 0.1


def test_a_stray_sync_with_a_short_length_costs_only_itself():
    # The candidate takes the ACK's bytes and more, fails its CRC, and the ACK is found.
    line = ScriptedLine([(0.01, bytes([DEVICE_SYNC, 0x80, 0x0A, 0x00])), (0.01, ack()),
                         (0.01, bytes(12))])
    client = HostClient(line, timeout=1.0)
    asyncio.run(client.reset())
    assert client.decoder.rejected >= 1


def test_a_bad_crc_is_skipped_and_the_next_frame_believed():
    broken = bytearray(ack())
    broken[-1] ^= 0x40
    line = ScriptedLine([(0.01, bytes(broken)), (0.01, ack())])
    client = HostClient(line, timeout=1.0)
    asyncio.run(client.reset())
    assert client.decoder.rejected == 1


def test_errors_are_reported_with_their_names():
    line = ScriptedLine([(0.01, frame(Reply.ERROR, bytes([Error.RANGE, Command.CONFIG])))])
    with pytest.raises(DeviceError, match="rejected command 0x02: RANGE"):
        asyncio.run(HostClient(line).reset())
    line = ScriptedLine([(0.01, frame(Reply.ERROR, bytes([0x63, Command.CONFIG])))])
    with pytest.raises(DeviceError, match="unknown error code 0x63"):
        asyncio.run(HostClient(line).reset())
    line = ScriptedLine([(0.01, frame(Reply.ERROR, b"\x01"))])
    with pytest.raises(ProtocolError, match="an ERROR reply of 1 bytes"):
        asyncio.run(HostClient(line).reset())


def test_a_bad_info_reply_is_a_protocol_error():
    line = ScriptedLine([(0.01, frame(Reply.INFO, b"\x07" * 18))])
    with pytest.raises(ProtocolError, match="not an INFO payload"):
        asyncio.run(HostClient(line).info())
    info = BuildInfo("fxp:8", "int", 2, 2, 64, 256, 24, 8, 15, 256)
    line = ScriptedLine([(0.01, frame(Reply.INFO, info.to_payload()))])
    client = HostClient(line)
    assert asyncio.run(client.info()) == info
    assert client.decoder.max_length == 18  # RESULT frames of a 2-column FXP8 build: 3 bytes


def test_timeout_is_checked():
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        HostClient(ScriptedLine(), timeout=0)


def test_the_command_line_names_a_missing_port(capsys):
    from scripts.host import main
    assert main(["--port", "/dev/nonexistent-tent", "info"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot open serial port /dev/nonexistent-tent at 115200 baud")
    assert "\n" not in err


NOISE = st.binary(max_size=40).map(lambda b: bytes(x for x in b if x != DEVICE_SYNC))
PAYLOADS = st.binary(max_size=18).map(lambda b: bytes(x for x in b if x != DEVICE_SYNC))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NOISE, st.sampled_from([r.value for r in Reply]), PAYLOADS,
                          st.sampled_from(["good", "bad_crc", "stray_sync"])), max_size=8),
       st.integers(1, 9))
def test_decoder_finds_every_valid_frame_after_any_garbage(parts, chunk):
    """Noise (without SYNC bytes), frames with a bad CRC and stray SYNCs with long lengths
    between valid frames, fed in chunks of any size: exactly the valid frames come out."""
    stream, want = bytearray(), []
    for noise, kind, payload, damage in parts:
        stream += noise
        data = bytearray(frame(kind, payload))
        if damage == "bad_crc":
            data[-1] ^= 0x5B if data[-1] ^ 0x5B != DEVICE_SYNC else 0x5C  # no new SYNC
        elif damage == "stray_sync":
            stream += bytes([DEVICE_SYNC, kind, 0xF0, 0x00])
            want.append((kind, payload))
        else:
            want.append((kind, payload))
        stream += data
    decoder = FrameDecoder(DEVICE_SYNC, max_length=18)
    got = []
    for i in range(0, len(stream), chunk):
        got += decoder.feed(bytes(stream[i:i + chunk]))
    assert got == want
