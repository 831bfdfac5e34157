#!/usr/bin/env bash
# Reproduces BENCHMARKS.md: builds the release host and component, installs the Python SDK into
# a venv of its own for the Python column, and runs every benchmark in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
python3 -m venv target/bench-venv
target/bench-venv/bin/pip install --quiet --disable-pip-version-check darktrace-sdk==0.10.1
cargo build --release -p host-test --bins
target/release/bench --python target/bench-venv/bin/python "$@"
