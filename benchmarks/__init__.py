"""Speed and memory scripts; each prints a table (`python -m benchmarks.<name>`)."""
