#!/usr/bin/env bash
# tools/deps/kustomize.sh: the Kustomize renderer for deploy/ checks.
#   tools/deps/kustomize.sh --ensure   make sure one exists (kubectl's built-in one, else the pinned
#                                      kustomize built from the Go module proxy into .cache/tools/bin)
#   tools/deps/kustomize.sh DIR        render DIR to stdout with whichever exists
# kubectl is not a Debian package of a usable version (Debian 12's kubernetes-client is 1.20 with an
# old kustomize), so a machine without a recent kubectl gets sigs.k8s.io/kustomize/kustomize/v5 at
# KUSTOMIZE_VERSION, once; later runs find it in the cache (git-ignored).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
KUSTOMIZE_VERSION=v5.7.1
CACHE_BIN=$REPO/.cache/tools/bin
PINNED=$CACHE_BIN/kustomize-$KUSTOMIZE_VERSION

kubectl_ok() {
  command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1 &&
    kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'
}

ensure() {
  if kubectl_ok || [ -x "$PINNED" ]; then return 0; fi
  [ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin
  if ! command -v go >/dev/null 2>&1; then
    echo "kustomize: neither a kubectl with Kustomize v5 nor Go to build kustomize $KUSTOMIZE_VERSION" >&2
    return 1
  fi
  echo "deps: building kustomize $KUSTOMIZE_VERSION from the Go module proxy into $CACHE_BIN"
  mkdir -p "$CACHE_BIN"
  local gopath=$REPO/.cache/go
  GOPATH=$gopath GOBIN=$CACHE_BIN GOFLAGS=-modcacherw \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  mv -f "$CACHE_BIN/kustomize" "$PINNED"
}

case "${1:-}" in
  --ensure) ensure ;;
  ""|-h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0" ;;
  *)
    if kubectl_ok; then exec kubectl kustomize "$1"; fi
    if [ -x "$PINNED" ]; then exec "$PINNED" build "$1"; fi
    echo "kustomize: none installed: run make deps" >&2
    exit 127
    ;;
esac
