#!/usr/bin/env bash
# Runs every check CI runs, on a fresh machine: installs what the tests need, then
# formatting, lints, the build and all tests. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== build binaries (the end-to-end tests run them)"
cargo build --workspace --bins --locked

echo "== tests"
# Two test threads: the end-to-end tests start real processes on a 2-core machine.
cargo test --workspace --locked -- --test-threads=2
