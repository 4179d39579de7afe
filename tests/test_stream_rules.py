"""The stream-rule monitor that every accelerator bench puts on the results stream."""

import pytest

from sim.streams import StreamMonitor


def feed(monitor, trace):
    for cycle, (valid, ready, payload) in enumerate(trace):
        monitor.sample(valid, ready, payload, cycle)


def test_a_stream_that_keeps_the_rules_passes():
    monitor = StreamMonitor("results")
    feed(monitor, [(0, 0, None), (1, 0, 5), (1, 0, 5), (1, 1, 5), (1, 1, 6), (0, 1, None),
                   (1, 0, 7), (1, 1, 7)])
    assert monitor.transfers == 3


def test_valid_dropped_before_ready_fails():
    with pytest.raises(AssertionError, match="results: valid dropped at cycle 2 before the "
                                             "transfer of payload 0x5"):
        feed(StreamMonitor("results"), [(0, 0, None), (1, 0, 5), (0, 0, None)])


def test_payload_changed_before_ready_fails():
    with pytest.raises(AssertionError, match=r"payload changed at cycle 2 before ready \(0x5 to 0x6\)"):
        feed(StreamMonitor("results"), [(0, 1, None), (1, 0, 5), (1, 1, 6)])
