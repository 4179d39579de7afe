"""The host client and its frame decoder against misbehaving lines: noise, stray SYNCs, bad
CRCs, unknown frames, silence, unknown errors, a missing port. Pure Python, no device."""

import asyncio
import random

import pytest
from hypothesis import given, settings, strategies as st

from hdl.client import DeviceError, HostClient, LinkError
from hdl.protocol import (DEVICE_SYNC, HOST_SYNC, INFO_BYTES, BuildInfo, Command, Error, Frame,
                          FrameDecoder, ProtocolError, Reply, encode_frame)


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


INFO = BuildInfo("fxp:8", "int", 2, 2, 64, 256, 24, 8, 15, 256)


def frame(kind, payload=b"", seq=0):
    return encode_frame(DEVICE_SYNC, kind, payload, seq=seq)


def ack(command=Command.RESET, seq=1):
    return frame(Reply.ACK, bytes([command]), seq)


def session(client):
    """The client as after INFO (seq 0): its next command has SEQ 1."""
    client.build, client._in_session, client.seq = INFO, True, 0
    return client


def test_continuous_noise_times_out_on_the_deadline():
    rng = random.Random(1)
    line = ScriptedLine(forever=lambda now: (0.01, bytes(rng.randrange(256) for _ in range(64))))
    client = session(HostClient(line, timeout=0.5, retries=0))
    with pytest.raises(TimeoutError, match="no reply from the device within 0.5 s"):
        asyncio.run(client.reset())
    assert 0.5 <= line.now <= 0.52  # not a moment longer, however much noise came
    client = session(HostClient(line, timeout=0.5, retries=2))
    line.now = 0.0
    with pytest.raises(TimeoutError, match=r"within 0.5 s, 3 tries \(is it connected"):
        asyncio.run(client.reset())
    assert 1.5 <= line.now <= 1.56 and client.resent == 2  # the frame was tried three times
    assert len(set(line.sent[-3:])) == 1  # with the same SEQ


def test_frames_of_unknown_kinds_do_not_move_the_deadline():
    line = ScriptedLine(forever=lambda now: (0.1, frame(0x99, b"\x01")))
    with pytest.raises(TimeoutError):
        asyncio.run(session(HostClient(line, timeout=0.5, retries=0)).reset())
    assert line.now <= 0.6


def test_replies_to_other_seqs_are_skipped():
    line = ScriptedLine([(0.01, ack(seq=0)), (0.01, ack(seq=7)), (0.01, ack(seq=1))])
    client = session(HostClient(line, timeout=1.0))
    asyncio.run(client.reset())
    assert line.now == pytest.approx(0.03) and not line.chunks


def test_a_stray_sync_with_a_long_length_does_not_swallow_the_reply():
    line = ScriptedLine([(0.01, bytes([DEVICE_SYNC, 0x80, 0x01, 0xFF, 0x0F, 0x11])),
                         (0.01, ack())])
    client = session(HostClient(line, timeout=1.0))
    asyncio.run(client.reset())
    assert client.decoder.rejected == 1 and line.now < 0.1


def test_a_stray_sync_with_a_short_length_costs_only_itself():
    # The candidate takes the ACK's bytes and more, fails its CRC, and the ACK is found.
    line = ScriptedLine([(0.01, bytes([DEVICE_SYNC, 0x80, 0x01, 0x0A, 0x00])), (0.01, ack()),
                         (0.01, bytes(12))])
    client = session(HostClient(line, timeout=1.0))
    asyncio.run(client.reset())
    assert client.decoder.rejected >= 1


def test_a_bad_crc_is_skipped_and_the_next_frame_believed():
    broken = bytearray(ack())
    broken[-1] ^= 0x40
    line = ScriptedLine([(0.01, bytes(broken)), (0.01, ack())])
    client = session(HostClient(line, timeout=1.0))
    asyncio.run(client.reset())
    assert client.decoder.rejected == 1


def test_errors_are_reported_with_their_names():
    line = ScriptedLine([(0.01, frame(Reply.ERROR, bytes([Error.RANGE, Command.CONFIG]), 1))])
    with pytest.raises(DeviceError, match="rejected command 0x02: RANGE"):
        asyncio.run(session(HostClient(line)).reset())
    line = ScriptedLine([(0.01, frame(Reply.ERROR, bytes([0x63, Command.CONFIG]), 1))])
    with pytest.raises(DeviceError, match="unknown error code 0x63"):
        asyncio.run(session(HostClient(line)).reset())
    line = ScriptedLine([(0.01, frame(Reply.ERROR, b"\x01", 1))])
    with pytest.raises(ProtocolError, match="an ERROR reply of 1 bytes"):
        asyncio.run(session(HostClient(line)).reset())


def test_a_damaged_frame_is_sent_again_and_a_rejected_one_is_not():
    checksum = frame(Reply.ERROR, bytes([Error.CHECKSUM, Command.RESET]), 1)
    line = ScriptedLine([(0.01, checksum), (0.01, ack())])
    client = session(HostClient(line))
    asyncio.run(client.reset())
    assert client.resent == 1 and len(line.sent) == 2 and line.sent[0] == line.sent[1]
    line = ScriptedLine([(0.01, frame(Reply.ERROR, bytes([Error.LENGTH, Command.RESET]), 1))])
    client = session(HostClient(line))
    with pytest.raises(DeviceError, match="LENGTH"):
        asyncio.run(client.reset())
    assert client.resent == 0


def test_a_new_session_starts_with_info():
    line = ScriptedLine([(0.01, frame(Reply.INFO, INFO.to_payload(), 1)), (0.01, ack(seq=2))])
    client = HostClient(line)
    asyncio.run(client.reset())
    decoded = [FrameDecoder(HOST_SYNC).feed(sent)[0] for sent in line.sent]
    assert [(f.kind, f.seq) for f in decoded] == [(Command.INFO, 1), (Command.RESET, 2)]


def test_a_lost_result_frame_is_a_link_error():
    client = session(HostClient(ScriptedLine()))
    client._collecting = True
    client._result(Frame(Reply.RESULT, 0, b"\x01"))
    client._result(Frame(Reply.RESULT, 2, b"\x01"))
    with pytest.raises(LinkError, match=r"RESULT frame 1 was lost on the line \(frame 2 came"):
        client._check_results()


def test_a_bad_info_reply_is_a_protocol_error():
    line = ScriptedLine([(0.01, frame(Reply.INFO, b"\x02" * 18, 1))])
    with pytest.raises(ProtocolError, match="not an INFO payload of protocol version 2"):
        asyncio.run(HostClient(line).info())
    line = ScriptedLine([(0.01, frame(Reply.INFO, b"\x01" * 18, 1))])
    with pytest.raises(ProtocolError, match="the device speaks protocol version 1, this client "
                                            "version 2"):
        asyncio.run(HostClient(line).info())
    line = ScriptedLine([(0.01, frame(Reply.INFO, INFO.to_payload(), 1))])
    client = HostClient(line)
    assert asyncio.run(client.info()) == INFO
    assert client.decoder.max_length == INFO_BYTES  # RESULT frames of 2-column FXP8: 3 bytes


def test_timeout_is_checked():
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        HostClient(ScriptedLine(), timeout=0)
    with pytest.raises(ValueError, match="retries must be an integer from 0 to 100"):
        HostClient(ScriptedLine(), retries=-1)


def test_the_command_line_names_a_missing_port(capsys):
    from scripts.host import main
    assert main(["--port", "/dev/nonexistent-tent", "info"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot open serial port /dev/nonexistent-tent at 1000000 baud")
    assert "\n" not in err


NOISE = st.binary(max_size=40).map(lambda b: bytes(x for x in b if x != DEVICE_SYNC))
PAYLOADS = st.binary(max_size=18).map(lambda b: bytes(x for x in b if x != DEVICE_SYNC))
SEQS = st.integers(0, 255).filter(lambda s: s != DEVICE_SYNC)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NOISE, st.sampled_from([r.value for r in Reply]), SEQS, PAYLOADS,
                          st.sampled_from(["good", "bad_crc", "stray_sync"])), max_size=8),
       st.integers(1, 9))
def test_decoder_finds_every_valid_frame_after_any_garbage(parts, chunk):
    """Noise (without SYNC bytes), frames with a bad CRC and stray SYNCs with long lengths
    between valid frames, fed in chunks of any size: exactly the valid frames come out."""
    stream, want = bytearray(), []
    for noise, kind, seq, payload, damage in parts:
        stream += noise
        data = bytearray(frame(kind, payload, seq))
        if damage == "bad_crc":
            data[-1] ^= 0x5B if data[-1] ^ 0x5B != DEVICE_SYNC else 0x5C  # no new SYNC
        elif damage == "stray_sync":
            stream += bytes([DEVICE_SYNC, kind, seq, 0xF0, 0x00])
            want.append(Frame(kind, seq, payload))
        else:
            want.append(Frame(kind, seq, payload))
        stream += data
    decoder = FrameDecoder(DEVICE_SYNC, max_length=INFO_BYTES)
    got = []
    for i in range(0, len(stream), chunk):
        got += decoder.feed(bytes(stream[i:i + chunk]))
    assert got == want


def test_a_stray_sync_waiting_for_bytes_does_not_hold_back_the_reply():
    # The candidate's length reaches past the ACK and nothing follows: the ACK is found anyway.
    line = ScriptedLine([(0.01, bytes([DEVICE_SYNC, 0x80, 0x01, 0x14, 0x00]) + ack())])
    client = session(HostClient(line, timeout=1.0, retries=0))
    asyncio.run(client.reset())
    assert line.now < 0.1 and client.decoder.rejected == 1


def test_decoder_fuzz_with_syncs_inside_noise_and_payloads():
    """The CI-sized tier of ``make fuzz``'s decoder part: noise and payloads full of SYNC bytes,
    damaged frames, stray SYNCs, random chunks."""
    from scripts.fuzz import fuzz_decoder
    assert fuzz_decoder(1500, seed=3)["frames"] > 3000
