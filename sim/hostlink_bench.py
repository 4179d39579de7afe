"""The host-link cocotb bench (:mod:`sim.tb_hostlink`) on a small accelerator, for the tests and
the long fuzz (``make fuzz``)."""

import dataclasses

from golden.arith import ScalingLimits
from hdl.accelerator import Accelerator
from hdl.hostlink import HostLink
from .runner import export_verilog, run_cocotb, synthesize_ice40
from .toolchain import ice40_cell_models

__all__ = ["LIMITS", "run_hostlink_bench", "run_link_netlist_bench", "run_deploy_bench",
           "run_resident_bench"]

LIMITS = ScalingLimits(bias_bits=24, m_bits=8, shift_max=13)


def run_hostlink_bench(family, form, rows, cols, *, fuzz_rounds, noisy_layers, seed=0,
                       noise_bytes=150, testcase=None):
    """Build a small host link (4 clocks per bit, 64-byte frames, depth 24, ``stall_cycles``
    at its minimum) and run the bench's tests (or ``testcase``) with ``fuzz_rounds`` rounds
    of line garbage and ``noisy_layers`` layers over a line that damages one byte in about
    ``noise_bytes``. Returns the :class:`sim.runner.CocotbResult`."""
    array = dict(family=family, form=form, rows=rows, cols=cols, max_K=12, depth=24,
                 limits=LIMITS)
    probe = Accelerator(**array)
    probe._MustUse__silence = True  # built only to ask its longest wait
    wait = probe.longest_wait
    link = HostLink(**array, clocks_per_bit=4, max_payload=64, stall_cycles=wait + 1)
    p = {"family": family.spec, "rows": rows, "cols": cols, "max_K": 12, "depth": 24,
         "limits": dataclasses.asdict(LIMITS), "clocks_per_bit": 4, "max_payload": 64,
         "timeout": 300e-6, "build": dataclasses.asdict(link.info),
         "config_bytes": link.item_bytes["config"], "weight_bytes": link.item_bytes["weights"],
         "activation_bytes": link.item_bytes["activations"], "fuzz_rounds": fuzz_rounds,
         "noisy_layers": noisy_layers, "noise_bytes": noise_bytes, "seed": seed}
    return run_cocotb(verilog_text=export_verilog(link, "hostlink"), toplevel="hostlink",
                      test_module="sim.tb_hostlink", params=p, testcase=testcase)


def run_link_netlist_bench(link, *, max_K, timeout=2e-3):
    """The bench's layers (:func:`sim.tb_hostlink.layers_through_the_uart`) on the iCE40
    netlist of ``link`` (a :class:`hdl.hostlink.HostLink` as a board build makes it;
    :func:`sim.runner.synthesize_ice40`) on Yosys's cell models, Icarus. Returns the
    :class:`sim.runner.CocotbResult`."""
    info = link.info
    p = {"family": info.family, "rows": info.rows, "cols": info.cols, "max_K": max_K,
         "limits": dataclasses.asdict(info.limits),
         "clocks_per_bit": link.clocks_per_bit, "timeout": timeout,
         "build": dataclasses.asdict(info), "watch": False, "seed": 0}
    netlist = synthesize_ice40(export_verilog(link, "hostlink"), "hostlink")
    return run_cocotb(verilog_text=netlist, toplevel="hostlink", test_module="sim.tb_hostlink",
                      params=p, testcase="layers_through_the_uart", simulator="icarus",
                      extra_sources=[ice40_cell_models()])


def run_deploy_bench(qnet_path, data_path, *, rows=4, cols=4, clocks_per_bit=4):
    """Deploy a saved quantized network over a simulated host link of its family (int form,
    shared scaling stage, its scaling limits, max_K its longest dot product) and check every
    layer (:mod:`sim.tb_deploy`). Returns the :class:`sim.runner.CocotbResult`."""
    from golden.quantized_io import load_quantized
    from hdl.network_runner import largest_K

    qnet = load_quantized(qnet_path)
    link = HostLink(family=qnet.hardware_family, form="int", rows=rows,
                    cols=cols, max_K=largest_K(qnet.network), depth=64, limits=qnet.limits,
                    scaling="shared", clocks_per_bit=clocks_per_bit, mx_block=qnet.mx_block,
                    mx_spread=max(1, qnet.block_spread))
    p = {"clocks_per_bit": clocks_per_bit, "timeout": 2e-3, "qnet": str(qnet_path),
         "data": str(data_path)}
    return run_cocotb(verilog_text=export_verilog(link, "hostlink"), toplevel="hostlink",
                      test_module="sim.tb_deploy", params=p)


def run_resident_bench(program, codes, *, clocks_per_bit=4, seed=0, simulator=None,
                       testcase="load_fuzz_then_classify", device=None, netlist=False,
                       fuzz=True, timeout=5e-3):
    """The resident device built for ``program`` (a :class:`golden.program.Program`; code
    memory 8,192 codes, 64-byte frames, so that an image takes INPUT frames), or the given
    ``device``, over the UART model (:mod:`sim.tb_resident`): with ``fuzz`` the loader
    fuzzed first, then ``codes`` (input codes per image) classified against the golden
    interpreter (``timeout``: seconds of simulated time the client waits for a reply). With
    ``netlist`` the device's iCE40 netlist (:func:`sim.runner.synthesize_ice40`) runs on
    Yosys's cell models instead of its RTL. ``testcase="pipelined_throughput"``: the
    program loaded, then the images classified pipelined, their RESULTs' cycles in the run
    directory's ``results.json``. Returns the :class:`sim.runner.CocotbResult`."""
    from golden.interpreter import Machine
    from hdl.standalone.device import ResidentDevice

    if device is None:
        device = ResidentDevice(
            family=program.family, lanes=program.rows, depth=16, max_K=program.max_k,
            address_bits=13, instructions=16, records=128, limits=program.limits,
            max_payload=64, clocks_per_bit=clocks_per_bit)
    machine = Machine(program)  # stale memory never changes a result
    expected = []
    for image_codes in codes:
        label, logits = machine.classify(image_codes)
        expected.append([label, [int(v) for v in logits]])
    p = {"clocks_per_bit": device.clocks_per_bit, "timeout": timeout,
         "image": program.to_bytes().hex(), "fuzz": fuzz,
         "codes": [[int(c) for c in image] for image in codes], "expected": expected,
         "seed": seed}
    text = export_verilog(device, "resident")
    if netlist:
        text = synthesize_ice40(text, "resident")
    extra = [ice40_cell_models()] if netlist or "SB_" in text else []  # iCE40 primitives
    return run_cocotb(verilog_text=text, toplevel="resident", test_module="sim.tb_resident",
                      params=p, simulator=simulator, testcase=testcase, extra_sources=extra)
