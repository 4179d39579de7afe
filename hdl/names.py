"""Instance names that the reports key on: a contract between the hardware and its reports.

The energy and area reports (:func:`scripts.asic.energy.block_of`, ``unit_of``) attribute every
standard cell to a block by the instance path it sits in, so the components name their
submodules with these constants and nothing else. ``tests/test_names.py`` elaborates small
accelerators and checks that every instance lands in the block its component belongs to.
"""

__all__ = ["CORE", "BUFFER", "RESULTS_FIFO", "FINAL_QUEUE", "SCALING", "PE", "PRODUCT",
           "DECODER", "DSP", "BUFFERS", "CLOCK_GATE", "pe_name", "decoder_name", "scaling_name",
           "dsp_name"]

#: The systolic core of an accelerator.
CORE = "core"
#: The K-tile accumulator buffer (block RAM on an FPGA, SRAM in a chip).
BUFFER = "buffer"
#: The accelerator's output FIFO.
RESULTS_FIFO = "results_fifo"
#: The queue of final totals in front of a shared scaling stage.
FINAL_QUEUE = "final_queue"
#: Scaling stages: ``scaling`` (shared or alone) or ``scaling_<column>``.
SCALING = "scaling"
#: Processing elements of the core: ``pe_<row>_<column>``.
PE = "pe"
#: The multiplier of a PE or MAC.
PRODUCT = "product"
#: DSP blocks shared by two PEs: ``dsp_<index>``.
DSP = "dsp"
#: Decoders: ``<tensor>_decoder`` or ``<tensor>_decoder_<index>``.
DECODER = "decoder"
#: Storage that a chip would build as memory: every instance whose path starts with one.
BUFFERS = (BUFFER, RESULTS_FIFO, FINAL_QUEUE)
#: Clock-gating cells that the standard-cell mapping adds: ``clock_gate_<k>``.
CLOCK_GATE = "clock_gate"


def pe_name(row, col):
    return f"{PE}_{row}_{col}"


def decoder_name(tensor, index=None):
    return f"{tensor}_{DECODER}" if index is None else f"{tensor}_{DECODER}_{index}"


def scaling_name(column=None):
    return SCALING if column is None else f"{SCALING}_{column}"


def dsp_name(index):
    return f"{DSP}_{index}"
