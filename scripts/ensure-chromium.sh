#!/usr/bin/env bash
# Installs Debian's chromium when it is missing: the dashboard test drives it headless through
# puppeteer-core (never a browser build of its own, which would need the internet). Run
# by scripts/test.sh before vitest; quick when chromium is already there.
set -euo pipefail

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  printf '[bootstrap] %s\n' "installing chromium" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

ensure_chromium
