#!/usr/bin/env bash
# Builds ToolHive's vMCP (github.com/stacklok/toolhive/cmd/vmcp) from the Go module proxy into
# ~/.cache/vmcp/peer/<version>/vmcp, outside the repo. Idempotent: an existing binary is kept.
#   bench/peer/build-toolhive-vmcp.sh [version]
# Default version v0.47.0: the newest whose whole dependency graph the module proxy serves here
# (see bench/peer/BUILD_NOTES.md). Prints the binary's path on the last line. About 10 minutes
# on 2 shared cores with GOFLAGS=-p=1 (the default here, to leave a core to other work).
set -euo pipefail
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
MODULE=github.com/stacklok/toolhive
version="${1:-v0.47.0}"
out="${HOME}/.cache/vmcp/peer/${version}"
bin="${out}/vmcp"
mkdir -p "$out"
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi
export GOFLAGS="${GOFLAGS:--p=1 -buildvcs=false}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
# Newer ToolHive releases need Go 1.27; the go command fetches this approved toolchain from the
# module proxy (about 76 MB, once per machine). Set GOTOOLCHAIN=local to forbid that.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
echo "building ${MODULE}/cmd/vmcp@${version} with $("$GO" version) into ${out}" >&2
start=$(date +%s)
if ! GOBIN="$out" "$GO" install "${MODULE}/cmd/vmcp@${version}" 2>"$out/install.log"; then
  echo "build failed; last lines of $out/install.log:" >&2
  grep -v '^go: downloading' "$out/install.log" | tail -8 >&2
  exit 1
fi
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$version" >"$out/VERSION"
echo "$bin"
