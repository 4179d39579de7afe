"""Command-line entry points: benchmarks, flows and reports."""
