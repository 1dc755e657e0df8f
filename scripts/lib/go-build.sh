# Shared by the scripts that build test binaries from source with Go (build-cluster-bins.sh,
# build-jaeger.sh). Source it after setting:
#   TAG    the log prefix (the script's name)
#   START  $(date +%s) when the script started
# It defines:
#   log MSG...               a line with the elapsed time, on stderr
#   find_go                  sets GO (GO, else go on PATH, else /usr/local/go/bin/go); exits if absent
#   lock_build DIR           creates DIR and holds DIR/.build.lock (waits for another build)
#   start_work NAME MSG      WORK=a scratch dir removed on exit; TERM/INT log MSG and exit 130
#   run CMD...               runs a long command so TERM/INT stop it at once
#   heartbeat_start WHAT / heartbeat_stop   a line a minute while a long step runs
#   go_env                   the Go settings of every build (module mode, local toolchain, no cgo)
#   go_get ARGS...           `go get`, its "go: downloading" lines kept out of the log unless it fails

log() { printf '[%s %4ss] %s\n' "$TAG" "$(($(date +%s) - START))" "$*" >&2; }

find_go() {
  if [[ -z "${GO:-}" ]]; then
    if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
  fi
  [[ -x "$GO" ]] || { log "no Go toolchain at '$GO' (set GO=/path/to/go)"; exit 1; }
}

# One build at a time per output dir (parallel CI steps or test runs may call the script). The
# lock is released by the kernel when the holder dies, so a killed build never blocks the next.
lock_build() {
  mkdir -p "$1"
  exec 9>"$1/.build.lock"
  if ! flock -n 9; then
    log "another build holds $1/.build.lock; waiting for it"
    flock 9
  fi
}

HEARTBEAT=""
CHILD=""
WORK=""

# Runs a long command in the background and waits for it, so a TERM or INT sent to the script
# (not only to its process group) stops the build at once instead of after the compile.
run() {
  local rc=0
  "$@" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

cleanup() {
  [[ -n "$CHILD" ]] && kill "$CHILD" 2>/dev/null || true
  [[ -n "$HEARTBEAT" ]] && kill "$HEARTBEAT" 2>/dev/null || true
  [[ -n "$WORK" ]] && rm -rf "$WORK"
  return 0
}

start_work() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/vmcp-$1.XXXXXX")"
  INTERRUPTED="$2"
  trap cleanup EXIT
  trap 'log "interrupted; $INTERRUPTED"; exit 130' INT TERM
}

# A line a minute while a long step runs, so a quiet compile is not mistaken for a hang.
heartbeat_start() {
  local what="$1"
  (
    local t0=$(date +%s)
    while sleep 60; do
      log "still $what ($((($(date +%s) - t0) / 60)) min)"
    done
  ) &
  HEARTBEAT=$!
}

heartbeat_stop() {
  [[ -n "$HEARTBEAT" ]] && kill "$HEARTBEAT" 2>/dev/null || true
  wait "$HEARTBEAT" 2>/dev/null || true
  HEARTBEAT=""
}

go_env() {
  export GOFLAGS="${GOFLAGS:-} -mod=mod"
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  export CGO_ENABLED="${CGO_ENABLED:-0}"
  log "go: $("$GO" version)"
}

go_get() {
  if ! run "$GO" get "$@" >"$WORK/go-get.log" 2>&1; then
    cat "$WORK/go-get.log" >&2
    log "go get $* failed"
    exit 1
  fi
  log "$(grep -c '^go: downloading' "$WORK/go-get.log" || true) modules downloaded"
}
