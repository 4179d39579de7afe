# amaranth: UnusedElaboratable=no
# (the invalid-argument test leaves a half-built component behind)
"""The UART host link: protocol helpers, the client's timeout, and the whole path client <->
UART <-> array in cocotb simulation."""

import asyncio
import random

import pytest

from golden.family import FXPFamily, TFXFamily
from hdl.hostlink import HostLink
from hdl.protocol import (CRC_HD4_BITS, CRC_POLYNOMIAL, DEVICE_SYNC, HOST_SYNC, MAX_PAYLOAD,
                          BuildInfo, Frame, FrameDecoder, ProtocolError, crc16, encode_frame)
from hdl.client import HostClient
from sim.hostlink_bench import run_hostlink_bench


def test_crc16_is_crc16_ibm_3740():
    assert crc16(b"123456789") == 0x29B1  # the catalogued check value of CRC-16/IBM-3740


def _poly_mod(value, poly):
    while value.bit_length() >= poly.bit_length():
        value ^= poly << (value.bit_length() - poly.bit_length())
    return value


def test_crc16_has_hamming_distance_4_over_the_longest_frame():
    """g = x^16 + x^12 + x^5 + 1 has an even number of terms, so (x + 1) divides it and every
    odd number of bit errors is seen; two errors d bits apart go unseen only when g divides
    x^d + 1, i.e. when d is a multiple of the order of x modulo g, which is 2^15 - 1. So a
    codeword of up to 2^15 - 1 bits (the longest frame) has Hamming distance 4."""
    g = 1 << 16 | CRC_POLYNOMIAL
    assert bin(g).count("1") % 2 == 0
    value, order = 2, 1
    while value != 1:
        value, order = _poly_mod(value << 1, g), order + 1
    assert order == CRC_HD4_BITS
    longest = 8 * (4 + MAX_PAYLOAD + 2)  # KIND, SEQ, LEN, payload, CRC
    assert longest <= CRC_HD4_BITS < longest + 8 * 2  # one more byte would be too many
    # And sampled: 1, 2 and 3 bit errors anywhere in a frame of the longest payload.
    rng = random.Random(5)
    good = encode_frame(HOST_SYNC, 0x04, bytes(rng.randrange(256) for _ in range(MAX_PAYLOAD)))
    for trial in range(300):
        damaged = bytearray(good)
        for bit in rng.sample(range(8, 8 * len(good)), 1 + trial % 3):
            damaged[bit // 8] ^= 1 << (bit % 8)
        assert FrameDecoder(HOST_SYNC).feed(bytes(damaged)) == []


def test_frames_round_trip_and_a_bad_crc_is_skipped():
    decoder = FrameDecoder(DEVICE_SYNC)
    frames = (encode_frame(DEVICE_SYNC, 0x81, b"\x01\x02", seq=7)
              + encode_frame(DEVICE_SYNC, 0x80, b"\x05", seq=8))
    want = [Frame(0x81, 7, b"\x01\x02"), Frame(0x80, 8, b"\x05")]
    assert decoder.feed(b"\x00\x11" + frames[:3]) == []
    assert decoder.feed(frames[3:]) == want
    broken = bytearray(encode_frame(DEVICE_SYNC, 0x80, b"\x05"))
    broken[-1] ^= 1
    assert decoder.feed(bytes(broken) + frames) == want
    assert decoder.rejected == 1
    with pytest.raises(ValueError, match="at most 4089 payload bytes"):
        encode_frame(HOST_SYNC, 1, bytes(MAX_PAYLOAD + 1))
    with pytest.raises(ValueError, match="seq must be an integer from 0 to 255"):
        encode_frame(HOST_SYNC, 1, seq=256)


def test_noise_never_passes_for_a_frame():
    """3,000 streams of random bytes (the CRC-8 of protocol 1 let 9 of them through)."""
    rng = random.Random(11)
    decoder = FrameDecoder(DEVICE_SYNC, max_length=MAX_PAYLOAD)
    for _ in range(3000):
        assert decoder.feed(bytes(rng.randrange(256) for _ in range(300))) == []


def test_build_info_round_trips():
    info = BuildInfo("tfx:8,3,2", "ses", 4, 8, 300, 70000, 24, 8, 13, 256, "shared", 13, 500)
    assert BuildInfo.from_payload(info.to_payload()) == info
    assert info.max_k_tiles == 17500
    with pytest.raises(ProtocolError, match="not an INFO payload"):
        BuildInfo.from_payload(b"\x02" * 18)
    # Block-scaled weights: the block's log2 in the form byte's upper bits, and weight rows
    # that carry 4 bits of block shift per column.
    blocked = BuildInfo("fxp:8+u", "ses", 4, 4, 64, 256, 24, 8, 15, 256, "shared", 13, 500, 32,
                        15)
    payload = blocked.to_payload()
    assert payload[5] == 0x51 and payload[6] == 0xF1
    assert BuildInfo.from_payload(payload) == blocked
    assert blocked.stream_layouts()["weights"].size == 4 * 8 + 4 * 4
    narrow = BuildInfo("fxp:8", "int", 4, 4, 64, 256, 24, 8, 15, 256, "shared", 13, 500, 16, 3)
    assert BuildInfo.from_payload(narrow.to_payload()) == narrow
    assert narrow.stream_layouts()["weights"].size == 4 * 8 + 4 * 2  # shifts 0..3
    from hdl.hostlink import HostLink
    from golden.family import FXPFamily
    with pytest.raises(ValueError, match="mx_block must be a power of two over the host link"):
        HostLink(family=FXPFamily(8), rows=4, cols=4, max_K=64, mx_block=48)


def test_client_times_out_with_a_clear_message():
    class Silent:
        def __init__(self):
            self.now = 0.0

        def clock(self):
            return self.now

        async def write(self, data):
            pass

        async def read(self, timeout):
            self.now += timeout
            return b""

    client = HostClient(Silent(), timeout=0.01)
    with pytest.raises(TimeoutError, match=r"no reply from the device within 0.01 s"):
        asyncio.run(client.info())


def test_hostlink_arguments_are_checked():
    with pytest.raises(ValueError, match="clocks_per_bit must be an integer from 4 to 65536"):
        HostLink(family=FXPFamily(8), rows=2, cols=2, max_K=8, clocks_per_bit=2)
    with pytest.raises(ValueError, match=r"max_payload must hold one item of every kind"):
        HostLink(family=TFXFamily(8, 3), rows=2, cols=8, max_K=8, max_payload=16)
    with pytest.raises(ValueError, match=r"max_payload must be an integer from 16 to 4089"):
        HostLink(family=TFXFamily(8, 3), rows=2, cols=2, max_K=8, max_payload=4096)
    with pytest.raises(ValueError, match=r"stall_cycles must exceed the array's longest legal "
                                         r"wait \(31 cycles for this array\), not 31"):
        HostLink(family=FXPFamily(8), rows=2, cols=4, max_K=8, scaling="shared",
                 stall_cycles=31)


@pytest.mark.cocotb
@pytest.mark.sim
@pytest.mark.parametrize("family,form,rows,cols", [
    (TFXFamily(8, 3), "ses", 2, 3),
    pytest.param(FXPFamily(6), "int", 3, 2, marks=pytest.mark.whole),
], ids=lambda v: getattr(v, "spec", v))
def test_host_link_in_simulation(family, form, rows, cols):
    result = run_hostlink_bench(family, form, rows, cols, fuzz_rounds=24, noisy_layers=2)
    assert result.passed, result
