"""Test doubles shipped with the package (used by the test suite and the benchmarks), e.g. `fake_upstream`."""
