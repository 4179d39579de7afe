"""The Verilog export command line and the Yosys area flow."""

import pytest

from golden.family import FXPFamily, TFXFamily
from hdl.__main__ import main
from hdl.decoder import Decoder
from scripts.bench.area import summarise, synthesize


def test_export_every_component(tmp_path, capsys):
    for argv in (["decoder", "--family", "tfx:8,3", "--form", "ses"],
                 ["mac", "--family", "tfx:6,2", "--K", "16", "--decoding"],
                 ["mac", "--family", "fxp:8"],
                 ["scaling", "--family", "ufxp:8", "--acc-width", "30"],
                 ["array", "--family", "fp:8,4", "--form", "ses", "--rows", "2", "--cols", "2"],
                 ["dot", "--family", "posit:8,1", "--form", "ses", "--K", "16"],
                 ["dot", "--family", "tfx:8,3", "--K", "32", "--form", "ses", "--m-bits", "8"],
                 ["array", "--family", "fxp:6", "--rows", "2", "--cols", "3", "--K", "8",
                  "--depth", "4"]):
        out = tmp_path / "x.v"
        assert main(argv + ["-o", str(out), "--name", "dut"]) == 0
        text = out.read_text()
        assert "module dut(" in text and "endmodule" in text


def test_export_errors(capsys):
    assert main(["decoder", "--family", "ufxp:8+u"]) == 2
    assert "'ufxp:8+u': UFXP8 is unsigned already; give its signed family" in capsys.readouterr().err
    assert main(["mac", "--family", "tfx:8,9"]) == 2
    assert "IS_max must be an integer from 1 to 7, not 9" in capsys.readouterr().err
    assert main(["mac", "--family", "posit:8"]) == 2
    assert "Family spec must be" in capsys.readouterr().err
    assert main(["array", "--family", "tfx:8,3", "--rows", "0"]) == 2
    assert "rows must be an integer from 1 to 64, not 0" in capsys.readouterr().err


@pytest.mark.flow
def test_area_flow_counts_cells():
    """FXP decoding is free (sign extension); the TFX decoder is real logic."""
    fxp = summarise("ice40", synthesize(Decoder(family=FXPFamily(8)), "ice40"))
    tfx = synthesize(Decoder(family=TFXFamily(8, 3)), "ice40")
    assert fxp == {"luts": 0, "carries": 0, "flops": 0, "dsps": 0}
    assert tfx["by_type"].get("SB_LUT4", 0) > 10
    assert summarise("ice40", tfx)["luts"] == tfx["by_type"]["SB_LUT4"]
