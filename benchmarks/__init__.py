"""otlab's benchmarks: one question per script, on one harness (``benchmarks._harness``).

Run one from the repository root with ``python -m benchmarks.NAME`` (``--help``
lists its options); each writes ``benchmarks/reports/NAME.md`` (and a PNG).
"""
