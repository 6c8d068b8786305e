#!/usr/bin/env bash
# Benchmarks, each printing its figure and a ratio against a native reference measured
# in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for bench in bench/*.bench.ts; do
  node --import tsx --expose-gc "$bench"
done
