#!/usr/bin/env bash
# tools/k8s-testenv.sh: builds the Kubernetes test environment of the kubernetes executor's tests:
# kube-apiserver from k8s.io/kubernetes at a pinned release (its staging/ modules replaced by the
# published k8s.io/* modules of the same release) and kwok (simulated nodes and pod lifecycles),
# both from the Go module proxy, into a git-ignored cache keyed by version. Debian's etcd-server
# (make deps) is the store. Build time and peak memory are recorded beside the binaries.
# Usage: tools/k8s-testenv.sh [--print-dir]
#   ACMS_K8S_VERSION (default v1.36.3), ACMS_KWOK_VERSION (default v0.8.0),
#   ACMS_K8S_TESTENV_CACHE (default <repo>/.cache/k8s-testenv)
# Prints the directory holding bin/kube-apiserver, bin/kwok and build.json on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
k8s=${ACMS_K8S_VERSION:-v1.36.3}
kwok=${ACMS_KWOK_VERSION:-v0.8.0}
api=v0.${k8s#v1.}
cache=${ACMS_K8S_TESTENV_CACHE:-$root/.cache/k8s-testenv}
dir=$cache/kubernetes-$k8s-kwok-$kwok
if [ "${1:-}" = --print-dir ]; then echo "$dir"; exit 0; fi
if [ -x "$dir/bin/kube-apiserver" ] && [ -x "$dir/bin/kwok" ] && [ -f "$dir/build.json" ]; then
    echo "k8s-testenv: cached in $dir" >&2
    echo "$dir"
    exit 0
fi
[ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "k8s-testenv: go is required (Go module proxy)" >&2; exit 2; }
mkdir -p "$dir/src" "$dir/bin"
# Self-contained caches: a cold build is what a fresh machine pays, and the numbers say so.
export GOMODCACHE=$dir/gomod GOCACHE=$dir/gocache GOFLAGS=-mod=mod CGO_ENABLED=0
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
start=$(date +%s)
cd "$dir/src"
go mod download -json "k8s.io/kubernetes@$k8s" > dl.json
gomod=$(sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p' dl.json)
{
    echo "module acms.test/k8s-testenv"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $k8s"
    echo
    # every staging module k8s.io/kubernetes replaces by ./staging/src/k8s.io/X -> k8s.io/X at $api
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 '"$api"'#p' "$gomod"
} > go.mod
printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\nfunc main() {}\n' > tools.go
/usr/bin/time -v -o time-apiserver.txt go build -trimpath -ldflags=-s -o "$dir/bin/kube-apiserver" \
    k8s.io/kubernetes/cmd/kube-apiserver
mid=$(date +%s)
GOBIN=$dir/bin /usr/bin/time -v -o time-kwok.txt env -u GOFLAGS go install -trimpath -ldflags=-s \
    "sigs.k8s.io/kwok/cmd/kwok@$kwok"
end=$(date +%s)
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
cat > "$dir/build.json" <<EOF
{"kubernetes": "$k8s", "staging": "$api", "kwok": "$kwok", "go": "$(go env GOVERSION)", "nproc": $(nproc),
 "apiserver_s": $((mid - start)), "apiserver_max_rss_kb": $(rss time-apiserver.txt),
 "kwok_s": $((end - mid)), "kwok_max_rss_kb": $(rss time-kwok.txt), "total_s": $((end - start)),
 "cache_mb": $(du -sm "$dir" | cut -f1)}
EOF
# the module and build caches are only needed to rebuild: keep the binaries and the record
chmod -R u+w "$dir/gomod" 2>/dev/null || true
rm -rf "$dir/gomod" "$dir/gocache"
echo "k8s-testenv: built in $((end - start)) s: $(cat "$dir/build.json")" >&2
echo "$dir"
