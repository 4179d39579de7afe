"""The standalone accelerator: the network lives on the board (``docs/design/standalone.md``).

The blocks that run a :mod:`golden.program` program around the existing array: address
generators (:mod:`.schedule`), and, to come, the sequencer, the memories, the pooling and
addition units and the loader.
"""
