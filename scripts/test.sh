#!/usr/bin/env bash
# The whole test suite: set-up if needed, type-check, then every vitest test (unit and
# acceptance against a real registry). Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc --noEmit
npx vitest run "$@"
