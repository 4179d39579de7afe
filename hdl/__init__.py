"""Amaranth components of the accelerator, generic over the number-format family."""
