#!/usr/bin/env bash
# tools/kafka/fetch.sh (make kafka): the pinned Apache Kafka broker (tools/kafka/pom.xml) and its
# runtime dependencies into a git-ignored cache, checked against tools/kafka/jars.sha256.
# Fetches with Maven only when the cache is missing or does not match; afterwards it works offline.
# Prints the library directory on stdout (what tests/lib/kafka.sh puts on the class path).
#   tools/kafka/fetch.sh            fetch if needed, check, print the lib dir
#   tools/kafka/fetch.sh --pin      re-write jars.sha256 from a fresh fetch (after a version change)
# Variables: ACMS_KAFKA_CACHE (default <repo>/.cache/kafka).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")
CACHE=${ACMS_KAFKA_CACHE:-$REPO/.cache/kafka}
LIB=$CACHE/$VERSION/lib
SUMS=$HERE/jars.sha256

log() { echo "kafka: $*" >&2; }

# check: every jar listed in jars.sha256 present with its hash, and no other jar
check() {
  [ -d "$LIB" ] || return 1
  (cd "$LIB" && sha256sum --quiet --strict -c "$SUMS" >/dev/null 2>&1) || return 1
  [ "$(find "$LIB" -maxdepth 1 -name '*.jar' | wc -l)" -eq "$(grep -c . "$SUMS")" ]
}

fetch() {
  command -v mvn >/dev/null || { log "mvn not found: install maven (apt-get install maven) and a JDK 17"; return 1; }
  local tmp
  tmp=$(mktemp -d "$CACHE/fetch-XXXXXX")
  log "fetching Apache Kafka $VERSION (org.apache.kafka:kafka_2.13) and its dependencies with Maven"
  if ! mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$LIB"
  mkdir -p "$(dirname "$LIB")"
  mv "$tmp/lib" "$LIB"
  rm -rf "$tmp"
}

mkdir -p "$CACHE"
if [ "${1:-}" = --pin ]; then
  fetch
  (cd "$LIB" && sha256sum -- *.jar) >"$SUMS"
  log "pinned $(grep -c . "$SUMS") jars of Kafka $VERSION in $SUMS"
elif ! check; then
  fetch
  if ! check; then
    log "the fetched jars do not match $SUMS (a changed version or a tampered download): refusing them"
    (cd "$LIB" && sha256sum --quiet -c "$SUMS" 2>&1 | head -n 5) >&2 || true
    rm -rf "$LIB"
    exit 1
  fi
  log "Apache Kafka $VERSION ready in $LIB ($(grep -c . "$SUMS") jars checked)"
fi
command -v java >/dev/null || { log "java not found: the broker needs a JRE 17 (apt-get install openjdk-17-jre-headless)"; exit 1; }
echo "$LIB"
