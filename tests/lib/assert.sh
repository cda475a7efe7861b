# Assertion helpers for integration tests (bash). Each failure prints what was expected and exits 1.
assert_eq() { # actual expected what
  if [ "$1" != "$2" ]; then echo "FAIL: $3: expected '$2', got '$1'" >&2; exit 1; fi
  echo "ok: $3"
}
# assert__holds CONDITION-STRING: the condition's status, without pipefail: in `OUT | grep -q X` grep stops
# at the first match and a writer still writing dies of SIGPIPE, which says nothing of the condition
assert__holds() {
  local rc=0 pf=0
  [[ -o pipefail ]] && pf=1
  set +o pipefail
  eval "$1" || rc=$?
  [ "$pf" = 0 ] || set -o pipefail
  return "$rc"
}
assert_true() { # condition-string what
  if ! assert__holds "$1"; then echo "FAIL: $2 ($1)" >&2; exit 1; fi
  echo "ok: $2"
}
wait_for() { # seconds condition-string what
  local deadline=$(( $(date +%s) + $1 ))
  while ! assert__holds "$2"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "FAIL: timed out after $1 s: $3" >&2; exit 1; fi
    sleep 0.2
  done
  echo "ok: $3"
}
json_get() { # json key[.key...]
  "${STACK_PY:-python3}" -c 'import json,sys
d=json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    d=d[int(k)] if isinstance(d,list) else d.get(k)
print("" if d is None else (json.dumps(d) if isinstance(d,(dict,list)) else d))' "$1" "$2"
}
topic_count() { # topic -> number of messages
  kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$1" -e -o beginning -q -f 'x\n' 2>/dev/null | wc -l
}
topic_count_key() { # topic key -> number of messages with that key
  kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$1" -e -o beginning -q -f '%k\n' 2>/dev/null | grep -c -x -F "$2" || true
}
assert_no_secret() { # value: absent from every topic, every Redis key and value, every log
  local v=$1 t found=0
  for t in $(kcat -b "$ACMS_KAFKA_BROKERS" -L 2>/dev/null | sed -n 's/^  topic "\([^"]*\)".*/\1/p'); do
    # grep -c reads everything: with pipefail, grep -q's early exit would SIGPIPE kcat and hide a match
    if [ "$(kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$t" -e -o beginning -q 2>/dev/null | grep -a -c -F "$v")" -gt 0 ]; then
      echo "secret found on topic $t" >&2; found=1
    fi
  done
  if stack_redis_cli --no-raw DEBUG JMAP >/dev/null 2>&1; then :; fi
  local dump
  dump=$(stack_redis_cli --scan --pattern '*' | while read -r k; do
    case "$(stack_redis_cli TYPE "$k")" in
      string) stack_redis_cli GET "$k" ;;
      hash) stack_redis_cli HGETALL "$k" ;;
      list) stack_redis_cli LRANGE "$k" 0 -1 ;;
      set) stack_redis_cli SMEMBERS "$k" ;;
      zset) stack_redis_cli ZRANGE "$k" 0 -1 ;;
    esac; echo "$k"; done)
  if [ "$(printf '%s' "$dump" | grep -a -c -F "$v")" -gt 0 ]; then echo "secret found in Redis" >&2; found=1; fi
  if grep -a -q -F "$v" "$STACK_DIR"/*.log 2>/dev/null; then echo "secret found in a service log" >&2; found=1; fi
  [ "$found" -eq 0 ] || { echo "FAIL: secret leaked" >&2; exit 1; }
  echo "ok: secret absent from topics, Redis and logs"
}
