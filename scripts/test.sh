#!/usr/bin/env bash
# npm test: bootstrap what is missing (deps, Docker engine, Redis, sandbox image), typecheck,
# then the whole suite against the real engine and Redis. Ends with a plain
# "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
bash scripts/ensure-chromium.sh
export REDIS_URL
# Every service of the suite: names only from a fixed table (no DNS query), no dial off loopback
# (test/support/egress-env.ts; the global setup sets the same).
export EGRESS_RESOLVER=static EGRESS_STATIC_HOSTS=private.test=10.20.30.40 EGRESS_TEST_GUARD=1 NPM_REGISTRY_URL=http://registry.test/
npm run --silent typecheck
npm run --silent lint
report=.buntime/vitest-report.json
rm -f "$report"
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || rc=$?
if [ -f "$report" ]; then
  node -e 'const r = require(process.argv[1]); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$PWD/$report"
fi
exit "$rc"
