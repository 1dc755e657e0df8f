#!/usr/bin/env bash
# Builds ToolHive's vMCP (github.com/stacklok/toolhive/cmd/vmcp) from the Go module proxy into
# ~/.cache/vmcp/peer/<version>/vmcp, outside the repo. Idempotent: an existing binary is kept.
#   bench/peer/build-toolhive-vmcp.sh [version]     (default: the newest version the proxy lists)
# Prints the binary's path on the last line. Uses `go install pkg@version`; if the module
# cannot be installed that way (replace directives), falls back to a throwaway module that
# requires it. Needs Go 1.27 (GOTOOLCHAIN, below). GOFLAGS=-p=1 by default to leave a core to other builds (override with GOFLAGS).
set -euo pipefail
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
MODULE=github.com/stacklok/toolhive
version="${1:-}"
if [[ -z "$version" ]]; then
  version="$("$GO" list -m -versions "$MODULE" | tr ' ' '\n' | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | tail -1)"
fi
out="${HOME}/.cache/vmcp/peer/${version}"
bin="${out}/vmcp"
mkdir -p "$out"
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi
export GOFLAGS="${GOFLAGS:--p=1 -buildvcs=false}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
# ToolHive >= v0.6x needs Go 1.27; the go command fetches this approved toolchain from the module
# proxy (about 76 MB, once per machine). Set GOTOOLCHAIN=local to forbid that.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
echo "building ${MODULE}/cmd/vmcp@${version} with $("$GO" version) into ${out}" >&2
start=$(date +%s)
if ! GOBIN="$out" "$GO" install "${MODULE}/cmd/vmcp@${version}" 2>"$out/install.log"; then
  echo "go install failed (see $out/install.log); trying a wrapper module" >&2
  work="$out/src"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  "$GO" mod init peerbuild >/dev/null 2>&1
  "$GO" get "${MODULE}@${version}" 2>>"$out/install.log"
  "$GO" build -o "$bin" "${MODULE}/cmd/vmcp" 2>>"$out/install.log"
fi
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$version" >"$out/VERSION"
echo "$bin"
