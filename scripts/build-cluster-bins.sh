#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from source with Go (only the Go module proxy is
# reachable, so there is no prebuilt envtest download) and prints the directory that holds them.
#
#   scripts/build-cluster-bins.sh            # build if needed, print the bin dir on stdout
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

log() { printf '[build-cluster-bins] %s\n' "$*" >&2; }

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

if has_all_bins "$OUT_DIR"; then
  log "binaries already present in $OUT_DIR"
  printf '%s\n' "$OUT_DIR"
  exit 0
fi

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
[[ -x "$GO" ]] || { log "no Go toolchain at '$GO' (set GO=/path/to/go)"; exit 1; }

mkdir -p "$OUT_DIR"
# One build at a time per output dir (parallel CI steps or test runs may call this script).
exec 9>"$OUT_DIR/.build.lock"
flock 9
if has_all_bins "$OUT_DIR"; then
  log "binaries were built by another process in $OUT_DIR"
  printf '%s\n' "$OUT_DIR"
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vmcp-cluster-bins.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/out"
mkdir -p "$STAGE"

export GOFLAGS="${GOFLAGS:-} -mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
START=$(date +%s)
log "go: $("$GO" version)"

# ---- kube-apiserver + kubectl --------------------------------------------------------------
# k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 with `replace`
# directives to ./staging, which are ignored for a dependency. A wrapper module re-maps each
# staging module to its published v0.<minor>.<patch> tag.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
K8S_MOD="$WORK/k8s"
mkdir -p "$K8S_MOD"
(
  cd "$K8S_MOD"
  "$GO" mod init vmcp.local/clusterbins/k8s >/dev/null 2>&1
  log "downloading k8s.io/kubernetes@$K8S_VERSION"
  gomod="$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -f "$gomod" ]] || { log "could not find go.mod of k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  # Lines like `	k8s.io/api => ./staging/src/k8s.io/api` (inside a replace block or standalone).
  mapfile -t staging < <(sed -n 's#^[[:space:]]*\(replace[[:space:]]\+\)\{0,1\}\(k8s\.io/[^[:space:]]*\)[[:space:]]\+=>[[:space:]]\+\./staging/.*#\2#p' "$gomod")
  [[ ${#staging[@]} -gt 0 ]] || { log "no staging replace lines found in $gomod"; exit 1; }
  log "mapping ${#staging[@]} staging modules to $STAGING_VERSION"
  args=()
  for m in "${staging[@]}"; do args+=("-replace=$m=$m@$STAGING_VERSION"); done
  "$GO" mod edit -require="k8s.io/kubernetes@$K8S_VERSION" "${args[@]}"
  "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2
  minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean"
  done
  log "building kube-apiserver and kubectl (-p $PARALLELISM)"
  "$GO" build -p "$PARALLELISM" -trimpath -ldflags="$ldflags" -o "$STAGE/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl >&2
)

# ---- etcd ----------------------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 is itself a main package (server/main.go -> etcdmain.Main).
ETCD_MOD="$WORK/etcd"
mkdir -p "$ETCD_MOD"
(
  cd "$ETCD_MOD"
  "$GO" mod init vmcp.local/clusterbins/etcd >/dev/null 2>&1
  log "downloading go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  "$GO" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  log "building etcd"
  "$GO" build -p "$PARALLELISM" -trimpath -ldflags="-s -w" -o "$STAGE/etcd" \
    go.etcd.io/etcd/server/v3 >&2
)

for b in "${BINS[@]}"; do
  mv -f "$STAGE/$b" "$OUT_DIR/$b"
done
printf 'kubernetes %s\netcd %s\nbuilt %s in %ss\n' "$K8S_VERSION" "$ETCD_VERSION" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(($(date +%s) - START))" >"$OUT_DIR/VERSIONS"
log "done in $(($(date +%s) - START))s: $OUT_DIR"
printf '%s\n' "$OUT_DIR"
