#!/usr/bin/env bash
# npm start: bootstrap what is missing, then serve the API and one runner on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
export REDIS_URL
exec node --import tsx scripts/serve.ts
