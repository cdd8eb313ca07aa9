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
  if [ -n "${DOCKER_HOST:-}" ]; then return; fi
  if docker_ok; then ensure_runsc_registration; return; fi
  command -v dockerd >/dev/null || apt_install docker.io
  command -v runsc >/dev/null || apt_install runsc
  daemon_json >"$STATE/daemon.json"
  log "starting dockerd (--bridge=none --iptables=false --ip-masq=false)"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --config-file "$STATE/daemon.json" >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do docker_ok && return; sleep 0.2; done
  log "dockerd did not come up; see $STATE/dockerd.log"; exit 1
}

# gVisor as an optional runtime (SANDBOX_RUNTIME=runsc); ptrace platform: kvm hangs on VMs.
# --host-uds=open lets the agent reach the runner's per-session data socket (a bind-mounted UDS);
# --oci-seccomp makes gVisor apply the container's seccomp profile (images/seccomp/) too.
RUNSC_ARGS='["--platform=ptrace","--network=none","--host-uds=open","--oci-seccomp"]'
daemon_json() {
  printf '{ "runtimes": { "runsc": { "path": "%s", "runtimeArgs": %s } } }\n' "$(command -v runsc)" "$RUNSC_ARGS"
}

# An engine keeps the runtime arguments it was started with. When it is our own (started with
# this checkout's daemon.json) it is brought up to date in place: runtimes are among the
# settings dockerd reloads on SIGHUP, and running containers are not touched. Anyone else's
# engine only gets a warning.
ensure_runsc_registration() {
  command -v runsc >/dev/null || return 0
  [ "$(engine_runsc_args)" = "$RUNSC_ARGS" ] && return
  local pid
  if ! pid=$(own_dockerd_pid); then
    log "warning: the Docker engine's runsc runtime arguments are $(engine_runsc_args), not $RUNSC_ARGS;" \
      "under SANDBOX_RUNTIME=runsc sessions get the seccomp profile only with --oci-seccomp"
    return
  fi
  daemon_json >"$STATE/daemon.json"
  log "runsc registration out of date: reloading dockerd ($pid) with $RUNSC_ARGS"
  kill -HUP "$pid"
  for _ in $(seq 1 50); do [ "$(engine_runsc_args)" = "$RUNSC_ARGS" ] && return; sleep 0.1; done
  log "dockerd did not take the new runsc registration; see $STATE/dockerd.log"; exit 1
}

# The running engine's runsc arguments as compact JSON ("none" when runsc is not registered).
engine_runsc_args() {
  node -e '
    const http = require("http");
    http.get({ socketPath: "/var/run/docker.sock", path: "/info", timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        const runsc = (JSON.parse(body).Runtimes || {}).runsc;
        console.log(runsc ? JSON.stringify(runsc.runtimeArgs || []) : "none");
      });
    }).on("error", () => console.log("none"));
  '
}

# The pid of a dockerd started with this checkout's daemon.json, if one runs.
own_dockerd_pid() {
  local pid
  for pid in $(pgrep -x dockerd); do
    if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -xF "$STATE/daemon.json" >/dev/null; then
      echo "$pid"; return 0
    fi
  done
  return 1
}

docker_ok() {
  node -e '
    const http = require("http");
    const r = http.get({ socketPath: "/var/run/docker.sock", path: "/_ping", timeout: 2000 },
      (res) => process.exit(res.statusCode === 200 ? 0 : 1));
    r.on("error", () => process.exit(1)); r.on("timeout", () => process.exit(1));
  ' 2>/dev/null
}

# Redis: REDIS_URL when given (the operator's; the API and runner warn when it is not durable);
# otherwise a project-owned redis-server on loopback, configured by config/redis.conf (an
# append-only file, noeviction) with its data in .buntime/redis/. BUNTIME_REDIS_MAXMEMORY
# (e.g. 4gb) overrides the file's maxmemory.
ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then return; fi
  local port="${BUNTIME_REDIS_PORT:-6399}"
  export REDIS_URL="redis://127.0.0.1:$port"
  command -v redis-server >/dev/null || apt_install redis-server
  if redis_ok "$port"; then ensure_redis_durable "$port"; return; fi
  mkdir -p "$STATE/redis"
  log "starting redis-server on 127.0.0.1:$port (append-only file in $STATE/redis)"
  redis-server "$ROOT/config/redis.conf" --bind 127.0.0.1 --port "$port" --daemonize yes \
    --dir "$STATE/redis" --logfile "$STATE/redis/redis.log" --pidfile "$STATE/redis/redis.pid" \
    ${BUNTIME_REDIS_MAXMEMORY:+--maxmemory "$BUNTIME_REDIS_MAXMEMORY"} >/dev/null
  for _ in $(seq 1 100); do redis_ok "$port" && return; sleep 0.1; done
  log "redis-server did not come up; see $STATE/redis/redis.log"; exit 1
}

# The project Redis already runs: one an older checkout started may have no append-only file
# (everything lost at its next restart) or evict keys. Switch it over live to config/redis.conf's
# settings; they last until it restarts, when it comes back with the file itself.
ensure_redis_durable() {
  local cli=(redis-cli -h 127.0.0.1 -p "$1")
  if [ "$(redis_config "$1" appendonly)" = yes ] && [ "$(redis_config "$1" maxmemory-policy)" = noeviction ]; then return; fi
  log "the Redis on 127.0.0.1:$1 runs without the append-only file or evicts keys: switching on" \
    "config/redis.conf's durability now (AOF in $(redis_config "$1" dir)/$(redis_config "$1" appenddirname))"
  local key value
  while read -r key value; do
    # appenddirname cannot change at run time; the running server keeps its own.
    [ "$key" = appenddirname ] && continue
    [ "$key" = maxmemory ] && value="${BUNTIME_REDIS_MAXMEMORY:-$value}"
    [ "$value" = '""' ] && value=''
    [ "$("${cli[@]}" CONFIG SET "$key" "$value")" = OK ] || { log "CONFIG SET $key $value failed"; exit 1; }
  done < <(grep -Ev '^[[:space:]]*(#|$)' "$ROOT/config/redis.conf")
}

redis_config() { redis-cli -h 127.0.0.1 -p "$1" CONFIG GET "$2" | sed -n 2p; }

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
