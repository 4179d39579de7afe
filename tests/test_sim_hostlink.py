# amaranth: UnusedElaboratable=no
# (the invalid-argument test leaves a half-built component behind)
"""The UART host link: protocol helpers, the client's timeout, and the whole path client <->
UART <-> array in cocotb simulation."""

import asyncio
import dataclasses

import pytest

from golden.arith import ScalingLimits
from golden.family import FXPFamily, TFXFamily
from hdl.hostlink import HostLink
from hdl.protocol import (DEVICE_SYNC, HOST_SYNC, BuildInfo, FrameDecoder, ProtocolError,
                          crc8, encode_frame)
from hdl.client import HostClient
from sim.runner import export_verilog, run_cocotb

LIMITS = ScalingLimits(bias_bits=24, m_bits=8, shift_max=13)


def test_crc8_is_crc8_smbus():
    assert crc8(b"123456789") == 0xF4  # the catalogued check value of CRC-8/SMBUS


def test_frames_round_trip_and_a_bad_crc_is_skipped():
    decoder = FrameDecoder(DEVICE_SYNC)
    frames = encode_frame(DEVICE_SYNC, 0x81, b"\x01\x02") + encode_frame(DEVICE_SYNC, 0x80, b"\x05")
    assert decoder.feed(b"\x00\x11" + frames[:3]) == []
    assert decoder.feed(frames[3:]) == [(0x81, b"\x01\x02"), (0x80, b"\x05")]
    broken = bytearray(encode_frame(DEVICE_SYNC, 0x80, b"\x05"))
    broken[-1] ^= 1
    assert decoder.feed(bytes(broken) + frames) == [(0x81, b"\x01\x02"), (0x80, b"\x05")]
    assert decoder.rejected == 1
    with pytest.raises(ValueError, match="at most 65535 payload bytes"):
        encode_frame(HOST_SYNC, 1, bytes(70000))


def test_build_info_round_trips():
    info = BuildInfo("tfx:8,3,2", "ses", 4, 8, 300, 70000, 24, 8, 13, 256)
    assert BuildInfo.from_payload(info.to_payload()) == info
    with pytest.raises(ProtocolError, match="not an INFO payload"):
        BuildInfo.from_payload(b"\x07" * 18)


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


@pytest.mark.sim
@pytest.mark.parametrize("family,form,rows,cols", [
    (TFXFamily(8, 3), "ses", 2, 3), (FXPFamily(6), "int", 3, 2),
], ids=lambda v: getattr(v, "spec", v))
def test_host_link_in_simulation(family, form, rows, cols):
    link = HostLink(family=family, form=form, rows=rows, cols=cols, max_K=12, depth=4,
                    limits=LIMITS, clocks_per_bit=4, max_payload=64, stall_cycles=3000)
    p = {"family": family.spec, "rows": rows, "cols": cols, "max_K": 12, "depth": 4,
         "limits": dataclasses.asdict(LIMITS), "clocks_per_bit": 4, "max_payload": 64,
         "timeout": 300e-6, "build": dataclasses.asdict(link.info),
         "config_bytes": link.item_bytes["config"], "weight_bytes": link.item_bytes["weights"],
         "activation_bytes": link.item_bytes["activations"]}
    result = run_cocotb(verilog_text=export_verilog(link, "hostlink"), toplevel="hostlink",
                        test_module="sim.tb_hostlink", params=p)
    assert result.passed, result
