"""Networks: the quantization study, training, and networks end to end through the simulated array."""
