#!/usr/bin/env bash
# npm test: bootstrap what is missing (deps, Docker engine, Redis, sandbox image), typecheck,
# then the whole suite against the real engine and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
export REDIS_URL
npx tsc --noEmit -p tsconfig.json
exec npx vitest run "$@"
