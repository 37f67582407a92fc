"""`python -m benchmarks`: run every benchmark and write benchmarks/RESULTS.md."""

from .run import main

main()
