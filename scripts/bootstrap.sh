#!/usr/bin/env bash
# Brings up what Buntime needs on this machine, installing what is missing:
# npm dependencies, a Docker engine, Redis and the sandbox image. Idempotent;
# quick when everything is already there. Sourced by start.sh, test.sh and bench.sh;
# exports DOCKER_HOST-independent settings (REDIS_URL) for the caller.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.buntime"
mkdir -p "$STATE"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_npm_deps() {
  local stamp="$ROOT/node_modules/.buntime-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/package-lock.json" "$stamp"; then
    log "installing npm dependencies"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ROOT/package-lock.json" "$stamp"
  fi
}

# Docker: use a running engine when one answers; otherwise start our own, with no bridge
# and without touching the host's iptables (sandboxes never get a network).
ensure_docker() {
  if [ -n "${DOCKER_HOST:-}" ] || docker_ok; then return; fi
  command -v dockerd >/dev/null || apt_install docker.io
  command -v runsc >/dev/null || apt_install runsc
  # gVisor as an optional runtime (SANDBOX_RUNTIME=runsc); ptrace platform: kvm hangs on VMs.
  # --host-uds=open lets the agent reach the runner's per-session data socket (a bind-mounted UDS).
  cat >"$STATE/daemon.json" <<JSON
{ "runtimes": { "runsc": { "path": "$(command -v runsc)", "runtimeArgs": ["--platform=ptrace", "--network=none", "--host-uds=open"] } } }
JSON
  log "starting dockerd (--bridge=none --iptables=false --ip-masq=false)"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --config-file "$STATE/daemon.json" >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do docker_ok && return; sleep 0.2; done
  log "dockerd did not come up; see $STATE/dockerd.log"; exit 1
}

docker_ok() {
  node -e '
    const http = require("http");
    const r = http.get({ socketPath: "/var/run/docker.sock", path: "/_ping", timeout: 2000 },
      (res) => process.exit(res.statusCode === 200 ? 0 : 1));
    r.on("error", () => process.exit(1)); r.on("timeout", () => process.exit(1));
  ' 2>/dev/null
}

# Redis: REDIS_URL when given; otherwise a project-owned redis-server on loopback.
ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then return; fi
  local port="${BUNTIME_REDIS_PORT:-6399}"
  export REDIS_URL="redis://127.0.0.1:$port"
  command -v redis-server >/dev/null || apt_install redis-server
  if redis_ok "$port"; then return; fi
  log "starting redis-server on 127.0.0.1:$port"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --save '' --appendonly no \
    --dir "$STATE" --logfile "$STATE/redis.log" --pidfile "$STATE/redis.pid" >/dev/null
  for _ in $(seq 1 50); do redis_ok "$port" && return; sleep 0.1; done
  log "redis-server did not come up; see $STATE/redis.log"; exit 1
}

redis_ok() { (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }

ensure_image() {
  command -v busybox >/dev/null && busybox --list | grep -qx sh && [ -f /bin/busybox ] \
    && file_static /bin/busybox || apt_install busybox-static
  (cd "$ROOT" && node --import tsx images/build.ts)
}

file_static() { ! ldd "$1" >/dev/null 2>&1; }

ensure_npm_deps
ensure_docker
ensure_redis
ensure_image
