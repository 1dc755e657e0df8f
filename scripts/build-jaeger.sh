#!/usr/bin/env bash
# Builds Jaeger (the v2 collector-based `jaeger` binary that runs all-in-one) from source with Go
# (only the Go module proxy is reachable, so there is no release download) and prints the path
# of the binary. The OpenTelemetry tests send spans to it over OTLP and read them back through
# its query API (tests/harness/jaeger.ts).
#
#   scripts/build-jaeger.sh            # build if needed, print the binary's path on stdout
#
# The first build takes 5-20 minutes on 2 cores and about 2 GiB of disk (Go module and build
# caches, plus the ~100 MiB binary). Each step prints a line with the elapsed time, and a line a
# minute while a long compile runs.
#
# The binary is built into a scratch folder, checked (it must run `version`) and only then moved
# into the cache with one rename, so an interrupted build leaves nothing half-written; Go's module
# and build caches make a re-run fast. A cached binary that no longer runs is deleted and rebuilt.
#
# Environment:
#   JAEGER_BIN          if set and it runs, it is used and nothing is built
#   VMCP_CACHE          cache root (default $HOME/.cache/vmcp); the binary lands in
#                       $VMCP_CACHE/jaeger/<version>/jaeger
#   JAEGER_VERSION      github.com/jaegertracing/jaeger version (default v1.76.0)
#   BUILD_PARALLELISM   go build -p (default 2)
#   GO                  go command (default: go on PATH, else /usr/local/go/bin/go)
#
# All progress goes to stderr; stdout carries only the path, so callers can do
#   JAEGER="$(scripts/build-jaeger.sh)".
set -euo pipefail

JAEGER_VERSION="${JAEGER_VERSION:-v1.76.0}"
PARALLELISM="${BUILD_PARALLELISM:-2}"
START=$(date +%s)
TAG=build-jaeger
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"

# True when $1 exists and runs (a truncated or foreign file does not).
bin_ok() {
  [[ -x "$1" ]] || return 1
  ("$1" version) >/dev/null 2>&1
}

if [[ -n "${JAEGER_BIN:-}" ]] && bin_ok "$JAEGER_BIN"; then
  log "using JAEGER_BIN=$JAEGER_BIN"
  printf '%s\n' "$JAEGER_BIN"
  exit 0
fi

CACHE_ROOT="${VMCP_CACHE:-$HOME/.cache/vmcp}"
OUT_DIR="$CACHE_ROOT/jaeger/$JAEGER_VERSION"
OUT="$OUT_DIR/jaeger"

if bin_ok "$OUT"; then
  log "binary already present: $OUT"
  printf '%s\n' "$OUT"
  exit 0
fi

find_go
lock_build "$OUT_DIR"

if [[ -e "$OUT" ]] && ! bin_ok "$OUT"; then
  log "cached binary does not run; rebuilding it"
  rm -f "$OUT"
fi
if bin_ok "$OUT"; then
  log "binary was built by another process: $OUT"
  printf '%s\n' "$OUT"
  exit 0
fi
log "to build: jaeger $JAEGER_VERSION into $OUT_DIR"
log "first build: 5-20 min on 2 cores and ~2 GiB of disk (Go caches); progress below"

start_work jaeger "the next run starts again (Go caches make it faster)"
go_env

cd "$WORK"
"$GO" mod init vmcp.local/jaeger >/dev/null 2>&1
log "step 1/2: resolving github.com/jaegertracing/jaeger@$JAEGER_VERSION"
heartbeat_start "downloading modules"
go_get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION"
heartbeat_stop

log "step 2/2: compiling jaeger (-p $PARALLELISM; the longest step)"
heartbeat_start "compiling jaeger"
run "$GO" build -p "$PARALLELISM" -trimpath -ldflags="-s -w" -o "$WORK/jaeger" \
  github.com/jaegertracing/jaeger/cmd/jaeger >&2
heartbeat_stop

bin_ok "$WORK/jaeger" || { log "built jaeger does not run; not caching it"; exit 1; }
cp "$WORK/jaeger" "$OUT_DIR/.jaeger.tmp"
mv -f "$OUT_DIR/.jaeger.tmp" "$OUT"
printf 'jaeger %s\nbuilt %s in %ss\n' "$JAEGER_VERSION" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$(($(date +%s) - START))" >"$OUT_DIR/VERSION"
log "done in $(($(date +%s) - START))s: $OUT ($(du -h "$OUT" | cut -f1))"
printf '%s\n' "$OUT"
