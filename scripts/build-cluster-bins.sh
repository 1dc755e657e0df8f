#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from source with Go (only the Go module proxy is
# reachable, so there is no prebuilt envtest download) and prints the directory that holds them.
#
#   scripts/build-cluster-bins.sh            # build if needed, print the bin dir on stdout
#
# The first build on a machine takes 6 minutes on 2 idle cores and up to 25 on a busy machine,
# and needs about 4 GiB of disk: the Go module cache (~/go/pkg/mod, ~0.8 GiB), the Go build
# cache (~/.cache/go-build, ~2.6 GiB) and the three binaries (~180 MiB). Each step prints a line
# with the elapsed time, and a line a minute while a long compile runs.
#
# Resuming: each binary is built into a scratch folder, checked (it must run `--version`) and
# only then moved into the cache, one rename per binary. An interrupted or failed build leaves
# the binaries that were finished and nothing half-written; the next run builds only the
# missing ones, and Go's module and build caches make a re-run of a half-done compile fast.
# A cached binary that no longer runs is deleted and rebuilt.
#
# Environment:
#   KUBEBUILDER_ASSETS  if set and it holds all three binaries, it is used and nothing is built
#   VMCP_CACHE          cache root (default $HOME/.cache/vmcp); binaries land in
#                       $VMCP_CACHE/envtest/<k8s-version>/
#   K8S_VERSION         k8s.io/kubernetes version (default v1.34.3)
#   ETCD_VERSION        go.etcd.io/etcd/server/v3 version (default v3.6.16)
#   BUILD_PARALLELISM   go build -p (default 2)
#   GO                  go command (default: go on PATH, else /usr/local/go/bin/go)
#
# All progress goes to stderr; stdout carries only the bin dir, so callers can do
#   BIN_DIR="$(scripts/build-cluster-bins.sh)".
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
PARALLELISM="${BUILD_PARALLELISM:-2}"
BINS=(kube-apiserver kubectl etcd)
START=$(date +%s)
TAG=build-cluster-bins
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"

# True when $1/$2 exists and runs (a truncated or foreign file does not).
bin_ok() {
  local dir="$1" b="$2"
  [[ -x "$dir/$b" ]] || return 1
  case "$b" in
    kubectl) ("$dir/$b" version --client) >/dev/null 2>&1 ;;
    *) ("$dir/$b" --version) >/dev/null 2>&1 ;;
  esac
}

has_all_bins() {
  local dir="$1" b
  for b in "${BINS[@]}"; do
    [[ -x "$dir/$b" ]] || return 1
  done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]] && has_all_bins "$KUBEBUILDER_ASSETS"; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  printf '%s\n' "$KUBEBUILDER_ASSETS"
  exit 0
fi

CACHE_ROOT="${VMCP_CACHE:-$HOME/.cache/vmcp}"
OUT_DIR="$CACHE_ROOT/envtest/$K8S_VERSION"

if has_all_bins "$OUT_DIR" && bin_ok "$OUT_DIR" kube-apiserver && bin_ok "$OUT_DIR" kubectl &&
  bin_ok "$OUT_DIR" etcd; then
  log "binaries already present in $OUT_DIR"
  printf '%s\n' "$OUT_DIR"
  exit 0
fi

find_go
lock_build "$OUT_DIR"

# Drop cached binaries that do not run (from an older, broken script or a full disk).
missing=()
for b in "${BINS[@]}"; do
  if [[ -e "$OUT_DIR/$b" ]] && ! bin_ok "$OUT_DIR" "$b"; then
    log "cached $b does not run; rebuilding it"
    rm -f "$OUT_DIR/$b"
  fi
  [[ -x "$OUT_DIR/$b" ]] || missing+=("$b")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  log "binaries were built by another process in $OUT_DIR"
  printf '%s\n' "$OUT_DIR"
  exit 0
fi
log "to build: ${missing[*]} (k8s $K8S_VERSION, etcd $ETCD_VERSION) into $OUT_DIR"
log "first build: 6-25 min on 2 cores and ~4 GiB of disk (Go caches); progress below"

need() {
  local b
  for b in "$@"; do [[ " ${missing[*]} " == *" $b "* ]] && return 0; done
  return 1
}

start_work cluster-bins "finished binaries stay cached, the next run builds the rest"
STAGE="$WORK/out"
mkdir -p "$STAGE"

# Moves a checked binary from the stage into the cache (one rename on the same filesystem).
install_bin() {
  local b="$1"
  bin_ok "$STAGE" "$b" || { log "built $b does not run; not caching it"; exit 1; }
  cp "$STAGE/$b" "$OUT_DIR/.$b.tmp"
  mv -f "$OUT_DIR/.$b.tmp" "$OUT_DIR/$b"
  log "cached $b ($(du -h "$OUT_DIR/$b" | cut -f1))"
}

go_env

# ---- kube-apiserver + kubectl --------------------------------------------------------------
# k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 with `replace`
# directives to ./staging, which are ignored for a dependency. A wrapper module re-maps each
# staging module to its published v0.<minor>.<patch> tag.
if need kube-apiserver kubectl; then
  STAGING_VERSION="v0.${K8S_VERSION#v1.}"
  K8S_MOD="$WORK/k8s"
  mkdir -p "$K8S_MOD"
  cd "$K8S_MOD"
  "$GO" mod init vmcp.local/clusterbins/k8s >/dev/null 2>&1
  log "step 1/4: downloading k8s.io/kubernetes@$K8S_VERSION"
  gomod="$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -f "$gomod" ]] || { log "could not find go.mod of k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  # Lines like `	k8s.io/api => ./staging/src/k8s.io/api` (inside a replace block or standalone).
  mapfile -t staging < <(sed -n 's#^[[:space:]]*\(replace[[:space:]]\+\)\{0,1\}\(k8s\.io/[^[:space:]]*\)[[:space:]]\+=>[[:space:]]\+\./staging/.*#\2#p' "$gomod")
  [[ ${#staging[@]} -gt 0 ]] || { log "no staging replace lines found in $gomod"; exit 1; }
  log "step 2/4: resolving dependencies (${#staging[@]} staging modules at $STAGING_VERSION)"
  args=()
  for m in "${staging[@]}"; do args+=("-replace=$m=$m@$STAGING_VERSION"); done
  "$GO" mod edit -require="k8s.io/kubernetes@$K8S_VERSION" "${args[@]}"
  heartbeat_start "downloading modules"
  go_get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION"
  heartbeat_stop
  minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean"
  done
  for b in kube-apiserver kubectl; do
    need "$b" || continue
    log "step 3/4: compiling $b (-p $PARALLELISM; the longest step)"
    heartbeat_start "compiling $b"
    run "$GO" build -p "$PARALLELISM" -trimpath -ldflags="$ldflags" -o "$STAGE/$b" \
      "k8s.io/kubernetes/cmd/$b" >&2
    heartbeat_stop
    install_bin "$b"
  done
fi

# ---- etcd ----------------------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 is itself a main package (server/main.go -> etcdmain.Main).
if need etcd; then
  ETCD_MOD="$WORK/etcd"
  mkdir -p "$ETCD_MOD"
  cd "$ETCD_MOD"
  "$GO" mod init vmcp.local/clusterbins/etcd >/dev/null 2>&1
  log "step 4/4: downloading and compiling etcd $ETCD_VERSION"
  heartbeat_start "building etcd"
  go_get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  run "$GO" build -p "$PARALLELISM" -trimpath -ldflags="-s -w" -o "$STAGE/etcd" \
    go.etcd.io/etcd/server/v3 >&2
  heartbeat_stop
  install_bin etcd
fi

has_all_bins "$OUT_DIR" || { log "some binaries are still missing in $OUT_DIR"; exit 1; }
printf 'kubernetes %s\netcd %s\nbuilt %s in %ss\n' "$K8S_VERSION" "$ETCD_VERSION" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(($(date +%s) - START))" >"$OUT_DIR/VERSIONS"
log "done in $(($(date +%s) - START))s: $OUT_DIR"
printf '%s\n' "$OUT_DIR"
