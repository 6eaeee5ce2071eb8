//! Benchmarks live in benches/ and compare.sh.
