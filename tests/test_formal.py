"""The short tier of the formal checks (SymbiYosys, Bitwuzla): every one proven, and a
harness that must fail does (``make formal`` runs the full tier)."""

import pytest

from sim.formal import FormalCheck, checks, run_check
from sim.formal.harnesses import StreamRulesCheck, executor
from sim.bitwuzla_shell import commands

pytestmark = pytest.mark.sim


@pytest.mark.flow
@pytest.mark.parametrize("check", checks("short"), ids=lambda c: c.name)
def test_formal_check_passes(check, tmp_path):
    record = run_check(check, out=tmp_path)
    assert record["status"] == "PASS", record


@pytest.mark.flow
def test_a_rule_the_design_breaks_fails(tmp_path):
    """The executor drops its offer when it resets the array on a stall: checked without that
    release, the stream rule must fail."""
    broken = FormalCheck("broken", "bmc", 30, lambda: StreamRulesCheck(
        executor, ("config", "weights", "activations")), "no release")
    assert run_check(broken, out=tmp_path)["status"] == "FAIL"


def test_the_solver_shell_splits_commands():
    lines = ['(set-logic QF_BV) ; a comment (\n', '(declare-fun |a (b| () Bool)\n',
             '(assert\n', '  (= a a))\n']
    assert list(commands(lines)) == ["(set-logic QF_BV)", "(declare-fun |a (b| () Bool)",
                                     "(assert\n  (= a a))"]
