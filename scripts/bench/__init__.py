"""Benchmarks: quantizer throughput, array cycles, component cell counts."""
