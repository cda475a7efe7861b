#!/usr/bin/env bash
# tools/k8s-testenv.sh: builds the Kubernetes test environment of the kubernetes executor's tests:
# kube-apiserver, kube-scheduler and kube-controller-manager from k8s.io/kubernetes at a pinned
# release (its staging/ modules replaced by the published k8s.io/* modules of the same release),
# kwok (simulated nodes and pod lifecycles) and metrics-server (the metrics.k8s.io API), all from
# the Go module proxy, in one module and one `go build` (they share the compile of client-go,
# apimachinery, apiserver), into a git-ignored cache keyed by version. Debian's etcd-server (make deps) is the store. Build time and peak memory are
# recorded beside the binaries (build.json); the module and build caches are removed afterwards.
# Usage: tools/k8s-testenv.sh [--print-dir]
#   ACMS_K8S_VERSION (default v1.36.3), ACMS_KWOK_VERSION (default v0.8.0),
#   ACMS_METRICS_SERVER_VERSION (default v0.9.0), ACMS_K8S_TESTENV_CACHE (default
#   <repo>/.cache/k8s-testenv), ACMS_K8S_TESTENV_KEEP=1 keeps the Go caches (a rebuild is then
#   incremental; 3.7 GB).
# Prints the directory holding bin/{kube-apiserver,kube-scheduler,kube-controller-manager,kwok,
# metrics-server} and build.json on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
k8s=${ACMS_K8S_VERSION:-v1.36.3}
kwok=${ACMS_KWOK_VERSION:-v0.8.0}
ms=${ACMS_METRICS_SERVER_VERSION:-v0.9.0}
api=v0.${k8s#v1.}
cache=${ACMS_K8S_TESTENV_CACHE:-$root/.cache/k8s-testenv}
dir=$cache/kubernetes-$k8s-kwok-$kwok-metrics-server-$ms
cmds="kube-apiserver kube-scheduler kube-controller-manager kwok metrics-server"
if [ "${1:-}" = --print-dir ]; then echo "$dir"; exit 0; fi
built=1
for c in $cmds; do [ -x "$dir/bin/$c" ] || built=0; done
if [ "$built" = 1 ] && [ -f "$dir/build.json" ] && grep -q '"commands"' "$dir/build.json"; then
    echo "k8s-testenv: cached in $dir" >&2
    echo "$dir"
    exit 0
fi
[ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "k8s-testenv: go is required (Go module proxy)" >&2; exit 2; }
rm -rf "$dir/bin" "$dir/src"
mkdir -p "$dir/src" "$dir/bin"
# Self-contained caches: a cold build is what a fresh machine pays, and the numbers say so.
# -p=2: the machines have 2 cores; more parallel compiles only add memory.
export GOMODCACHE=$dir/gomod GOCACHE=$dir/gocache GOFLAGS="-mod=mod -p=2" CGO_ENABLED=0 GOTOOLCHAIN=local
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
start=$(date +%s)
cd "$dir/src"
go mod download -json "k8s.io/kubernetes@$k8s" > dl.json
gomod=$(sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p' dl.json)
{
    echo "module acms.test/k8s-testenv"
    echo
    echo "go 1.26.4"
    echo
    echo "require ("
    echo "    k8s.io/kubernetes $k8s"
    echo "    sigs.k8s.io/kwok $kwok"
    echo "    sigs.k8s.io/metrics-server $ms"
    echo ")"
    echo
    # every staging module k8s.io/kubernetes replaces by ./staging/src/k8s.io/X -> k8s.io/X at $api
    # (kwok's and metrics-server's k8s.io/* requirements are of the same minor release)
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 '"$api"'#p' "$gomod"
} > go.mod
printf 'package main\n\nfunc main() {}\n' > main.go
ver="-X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1"
ver="$ver -X k8s.io/component-base/version.gitMinor=$(echo "$k8s" | cut -d. -f2)"
/usr/bin/time -v -o time-build.txt go build -trimpath -ldflags="-s -w $ver" -o "$dir/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kube-controller-manager sigs.k8s.io/kwok/cmd/kwok \
    sigs.k8s.io/metrics-server/cmd/metrics-server
end=$(date +%s)
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
cat > "$dir/build.json" <<EOF
{"kubernetes": "$k8s", "staging": "$api", "kwok": "$kwok", "metrics_server": "$ms", "go": "$(go env GOVERSION)", "nproc": $(nproc),
 "commands": "$cmds", "build_s": $((end - start)), "build_max_rss_kb": $(rss time-build.txt),
 "cache_mb_during_build": $(du -sm "$dir" | cut -f1)}
EOF
# the module and build caches are only needed to rebuild: keep the binaries and the record
[ "${ACMS_K8S_TESTENV_KEEP:-0}" = 1 ] || chmod -R u+w "$dir/gomod" 2>/dev/null || true
[ "${ACMS_K8S_TESTENV_KEEP:-0}" = 1 ] || rm -rf "$dir/gomod" "$dir/gocache"
echo "k8s-testenv: built in $((end - start)) s: $(cat "$dir/build.json"); kept $(du -sm "$dir" | cut -f1) MB" >&2
echo "$dir"
