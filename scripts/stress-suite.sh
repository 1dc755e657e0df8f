#!/usr/bin/env bash
# Runs the whole test suite several times in a row while a CPU hog keeps every core busy, and
# reports the pass/fail counts of each run. A suite that is green here does not depend on how
# fast the machine is.
#
#   scripts/stress-suite.sh                 # 3 runs of `deno task test`, one hog per core
#   scripts/stress-suite.sh 2 tests/proxy   # 2 runs of the given paths only
#
# Environment:
#   STRESS_HOGS      busy processes to run beside the suite (default: the number of cores)
#   STRESS_LOG_DIR   where each run's full output goes (default: a fresh folder under /tmp)
#
# The hog is stress-ng (Debian's stress-ng) when it is installed, else one bash busy loop per
# hog. It runs at normal priority for the whole session and is killed on exit, whatever the
# outcome. Exit status: 0 when every run passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-3}"
shift || true
HOGS="${STRESS_HOGS:-$(nproc)}"
LOG_DIR="${STRESS_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/vmcp-stress.XXXXXX")}"
mkdir -p "$LOG_DIR"

log() { printf '[stress-suite] %s\n' "$*" >&2; }

hog_pids=()
stop_hogs() {
  local p
  for p in "${hog_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${hog_pids[@]}"; do wait "$p" 2>/dev/null; done
  hog_pids=()
}
trap stop_hogs EXIT
trap 'log "interrupted"; exit 130' INT TERM

if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$HOGS" --cpu-method all --quiet >/dev/null 2>&1 &
  hog_pids+=($!)
  log "hog: stress-ng --cpu $HOGS"
else
  for ((i = 0; i < HOGS; i++)); do
    bash -c 'while :; do :; done' &
    hog_pids+=($!)
  done
  log "hog: $HOGS bash busy loops (install stress-ng for a varied load)"
fi

results=()
all_green=1
for ((run = 1; run <= RUNS; run++)); do
  out="$LOG_DIR/run-$run.log"
  t0=$(date +%s)
  log "run $run/$RUNS: deno task test $* (output: $out)"
  deno task test "$@" >"$out" 2>&1
  code=$?
  secs=$(($(date +%s) - t0))
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)"
  [[ -n "$summary" ]] || summary="no summary line"
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  line="run $run: $summary (exit $code, ${secs}s, load $load)"
  results+=("$line")
  log "$line"
  if [[ $code -ne 0 ]] || ! [[ "$summary" =~ ^[0-9]+\ passed,\ 0\ failed ]]; then
    all_green=0
    grep -E '^[^ ].* => .*_test\.ts:[0-9]+' "$out" | sort -u | sed 's/^/  failed: /' >&2 || true
  fi
done

stop_hogs
printf '%s\n' "${results[@]}"
if [[ $all_green -eq 1 ]]; then
  echo "stress-suite: $RUNS of $RUNS runs green under $HOGS CPU hogs"
  exit 0
fi
echo "stress-suite: not every run was green (logs in $LOG_DIR)"
exit 1
