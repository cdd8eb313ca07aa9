#!/usr/bin/env bash
# npm run bench: bootstrap what is missing, then measure the hot path against its baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
export REDIS_URL
exec node --import tsx scripts/bench.ts
