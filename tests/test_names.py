"""The naming contract between hardware and energy report (:mod:`hdl.names`): every instance
of a small accelerator lands in the block its component belongs to. No Yosys needed."""

import types

import pytest
from amaranth.hdl import Fragment
from amaranth.lib.fifo import SyncFIFOBuffered

from golden.family import FXPFamily, TFXFamily
from hdl.accelerator import Accelerator, AccumulatorBuffer
from hdl.decoder import Decoder
from hdl.mac import Product
from hdl.pe import ProcessingElement
from hdl.scaling import ScalingStage
from scripts.asic.energy import block_of, unit_of

# The block of every cell inside a component (innermost listed component wins; storage
# anywhere above wins over everything).
EXPECTED = {Decoder: "decoders", Product: "multipliers", ProcessingElement: "accumulators",
            ScalingStage: "scaling"}
STORAGE = (AccumulatorBuffer, SyncFIFOBuffered)


def instances(fragment, path=(), owners=()):
    """(instance path, components from the top down to it) of every fragment below the top."""
    for sub, name, _ in fragment.subfragments:
        origin = sub.origins[0] if sub.origins else None
        here = (*path, name)
        chain = (*owners, origin)
        yield ".".join(here), chain
        yield from instances(sub, here, chain)


def expected_block(chain):
    if any(isinstance(c, STORAGE) for c in chain):
        return "buffers"
    for component in reversed(chain):
        for kind, block in EXPECTED.items():
            if isinstance(component, kind):
                return block
    return "control"


@pytest.mark.parametrize("family,form,scaling", [
    (TFXFamily(8, 3), "ses", "per_column"), (TFXFamily(6, 2), "int", "shared"),
    (FXPFamily(8), "int", "per_column"), (FXPFamily(5), "int", "shared")], ids=str)
def test_every_instance_lands_in_its_block(family, form, scaling):
    array = Accelerator(family=family, form=form, rows=2, cols=3, max_K=16, depth=4,
                        scaling=scaling)
    seen = {}
    for path, chain in instances(Fragment.get(array, None)):
        assert all(part and not part.startswith("U$") for part in path.split(".")), path
        want = expected_block(chain)
        assert block_of(path, sequential=False) == want, (path, type(chain[-1]).__name__)
        if want != "buffers":
            assert block_of(path, sequential=True) == "registers", path
        seen.setdefault(want, []).append(path)
    assert set(seen) == {"decoders", "multipliers", "accumulators", "scaling", "buffers",
                         "control"}
    assert {unit_of(path) for path in seen["buffers"]} == (
        {"buffer", "results_fifo"} | ({"serialiser"} if scaling == "shared" else set()))
    assert unit_of("") == "top" and unit_of("scaling_2.encoder") == "scaling"


def test_a_name_outside_the_contract_fails_the_check(monkeypatch):
    """As if the PE named its multiplier with a literal of its own."""
    import hdl.names
    import hdl.pe

    renamed = types.SimpleNamespace(**{name: getattr(hdl.names, name) for name in hdl.names.__all__})
    renamed.PRODUCT = "multiplier"
    monkeypatch.setattr(hdl.pe, "names", renamed)
    array = Accelerator(family=FXPFamily(8), rows=2, cols=2, max_K=16, depth=4)
    wrong = [path for path, chain in instances(Fragment.get(array, None))
             if block_of(path, sequential=False) != expected_block(chain)]
    assert wrong and all(path.endswith(".multiplier") for path in wrong)
