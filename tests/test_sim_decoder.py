"""cocotb on Icarus: the decoder's exported Verilog, every code for every n <= 10 and IS, and
the minifloats (the OCP types among them) and posits."""

import pytest

from golden.family import FPFamily, FXPFamily, PositFamily, TFXFamily
from hdl.decoder import Decoder
from sim.runner import export_verilog, run_cocotb

pytestmark = [pytest.mark.sim, pytest.mark.cocotb]

CASES = ([(TFXFamily(n, n - 1), form) for n in range(3, 11) for form in ("int", "ses")]
         + [(TFXFamily(8, 3), "int"), (TFXFamily(8, 3), "ses"), (TFXFamily(9, 4, IS_min=2), "ses"),
            (FXPFamily(8), "int"), (FXPFamily(7, signed=False), "int")]
         + [(FPFamily(n, E), form) for n, E in ((8, 4), (8, 5), (6, 2), (6, 3), (4, 2), (10, 5))
            for form in ("int", "ses")]
         + [(PositFamily(n, es), form) for n, es in ((8, 0), (8, 1), (8, 2), (10, 3), (6, 3), (3, 1))
            for form in ("int", "ses")])


@pytest.mark.parametrize("family,form", CASES, ids=lambda v: getattr(v, "spec", v))
def test_decoder_every_code(family, form):
    text = export_verilog(Decoder(family=family, form=form), "decoder")
    result = run_cocotb(verilog_text=text, toplevel="decoder", test_module="sim.tb_decoder",
                        params={"family": family.spec, "form": form})
    assert result.passed, result
