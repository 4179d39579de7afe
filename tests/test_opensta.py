"""OpenSTA (Debian's 2019 build) pinned down on tiny circuits: how it reads a global activity,
and how its vectorless figures relate to the energy model's with the same activities."""

import pytest

from scripts.asic.energy import Conditions, GateNetlist, LeafCell
from scripts.asic.liberty import OSU018_LIBERTY, load_library
from scripts.asic.opensta import model_power, opensta_power, sta_verilog

ACTIVITY = 0.1
CONDITIONS = Conditions(clock_mhz=100, input_slew_ns=0.1, output_load_pf=0.01)

# A flip-flop into an inverter into a flip-flop; d comes from a port.
CHAIN = """module chain(clk, d, y);
  input clk, d; output y; wire q1, n;
  DFFPOSX1 r1 (.CLK(clk), .D(d), .Q(q1));
  INVX1 g (.A(q1), .Y(n));
  DFFPOSX1 r2 (.CLK(clk), .D(n), .Q(y));
endmodule
"""
# A gate fed by ports only.
PORTS = """module ports(clk, a, b, y);
  input clk, a, b; output y;
  NAND2X1 g (.A(a), .B(b), .Y(y));
endmodule
"""


@pytest.fixture(scope="module")
def library():
    return load_library(OSU018_LIBERTY)


def chain_netlist():
    clk, d, q1, n, y = range(5)
    cells = [LeafCell("", "r1", "DFFPOSX1", {"CLK": clk, "D": d, "Q": q1}),
             LeafCell("", "g", "INVX1", {"A": q1, "Y": n}),
             LeafCell("", "r2", "DFFPOSX1", {"CLK": clk, "D": n, "Q": y})]
    return GateNetlist("chain", cells, {}, ["chain"], {clk, d}, {y}, 5)


def sta(tmp_path, text, top):
    path = tmp_path / f"{top}.v"
    path.write_text(text)
    return opensta_power(path, top, OSU018_LIBERTY, activity=ACTIVITY, conditions=CONDITIONS)


@pytest.mark.flow
def test_activity_is_per_clock_period_on_flop_outputs(tmp_path, library):
    groups = sta(tmp_path, CHAIN, "chain")
    rate = ACTIVITY * CONDITIONS.clock_mhz * 1e6  # transitions per second
    half_cv2 = lambda c: 0.5 * c * 1e-12 * 1.8 ** 2
    # q1 drives the inverter's A, y the output load; n (the inverter's output) drives r2.D
    sequential = (half_cv2(library["INVX1"].pins["A"].capacitance)
                  + half_cv2(CONDITIONS.output_load_pf)) * rate
    assert groups["sequential"]["switching"] == pytest.approx(sequential, rel=1e-3)
    assert groups["combinational"]["switching"] == pytest.approx(
        half_cv2(library["DFFPOSX1"].pins["D"].capacitance) * rate, rel=1e-3)
    ours, _ = model_power(chain_netlist(), library, activity=ACTIVITY, conditions=CONDITIONS)
    for group in ("sequential", "combinational"):
        assert ours[group]["switching"] == pytest.approx(groups[group]["switching"], rel=1e-3)
        assert ours[group]["leakage"] == pytest.approx(groups[group]["leakage"], rel=1e-3)


@pytest.mark.flow
def test_activity_is_per_second_on_input_ports(tmp_path):
    groups = sta(tmp_path, PORTS, "ports")
    # 0.1 transitions per second: nothing next to a 100 MHz clock (its leakage remains)
    assert groups["combinational"]["switching"] < 1e-13
    assert groups["combinational"]["internal"] < 1e-13


@pytest.mark.flow
def test_internal_energy_is_twice_the_liberty_mean_per_transition(tmp_path, library):
    """Liberty gives the energy of one rising and of one falling transition; the model charges
    their mean per transition. This OpenSTA charges about their sum: twice as much."""
    groups = sta(tmp_path, CHAIN, "chain")
    ours, _ = model_power(chain_netlist(), library, activity=ACTIVITY, conditions=CONDITIONS)
    for group in ("sequential", "combinational"):
        ratio = groups[group]["internal"] / ours[group]["internal"]
        assert 1.8 < ratio < 2.2, (group, ratio)


def test_missing_sta_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="install the Debian package opensta"):
        opensta_power(tmp_path / "x.v", "x", OSU018_LIBERTY, activity=0.1)


# The chain with its inverter in a submodule whose output bits are assigned as a concatenation,
# as Yosys writes a decoder whose outputs come straight from its inputs.
CONCATENATED = """module half(a, y);
  input a; output [1:0] y; wire n;
  INVX1 g (.A(a), .Y(n));
  assign { y[1], y[0] } = { 1'h0, n };
endmodule
module chain(clk, d, y);
  input clk, d; output y; wire q1; wire [1:0] h;
  DFFPOSX1 r1 (.CLK(clk), .D(d), .Q(q1));
  half u (.a(q1), .y(h));
  DFFPOSX1 r2 (.CLK(clk), .D(h[0]), .Q(y));
endmodule
"""


@pytest.mark.flow
def test_a_concatenated_assignment_is_rewritten_for_opensta(tmp_path):
    (tmp_path / "netlist.v").write_text(CONCATENATED)
    with pytest.raises(RuntimeError, match="OpenSTA failed"):
        opensta_power(tmp_path / "netlist.v", "chain", OSU018_LIBERTY, activity=ACTIVITY,
                      conditions=CONDITIONS)
    rewritten = opensta_power(sta_verilog(tmp_path, OSU018_LIBERTY), "chain", OSU018_LIBERTY,
                              activity=ACTIVITY, conditions=CONDITIONS)
    assert rewritten == sta(tmp_path, CHAIN, "chain")
