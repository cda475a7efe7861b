#!/usr/bin/env bash
# Runs every libFuzzer target of $FUZZ_BUILD/fuzz (built by `make fuzz`) for FUZZ_SECONDS each
# (default 60; 0 = only replay the committed corpus), starting from tests/fuzz/corpus/<target>/ and
# its dictionary tests/fuzz/<target>.dict when present. New inputs go to $FUZZ_BUILD/corpus/<target>
# (never into the committed seeds), crashes to $FUZZ_BUILD/artifacts/. Any crash, leak, timeout
# (5 s per input) or out-of-memory (2 GiB) fails the run. FUZZ_TARGETS="fuzz_doc ..." picks targets.
set -u
cd "$(dirname "$0")/../.." || exit 2
build=${FUZZ_BUILD:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-}
[ -n "${targets// /}" ] || targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
export ACMS_CONFIG_DIR=${ACMS_CONFIG_DIR:-$PWD/examples}
# leaks are findings; a finding stops the target with a non-zero exit
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=() summary=()
for t in $targets; do
  bin=$build/fuzz/$t
  if [ ! -x "$bin" ]; then echo "fuzz: $bin missing (make fuzz builds it)" >&2; failed+=("$t"); continue; fi
  seeds=tests/fuzz/corpus/$t work=$build/corpus/$t art=$build/artifacts/$t
  mkdir -p "$seeds" "$work" "$art"
  args=(-timeout=5 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$art/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  log=$build/$t.log
  if [ "$secs" = 0 ]; then
    "$bin" "${args[@]}" -runs=0 "$seeds" >"$log" 2>&1
  else
    "$bin" "${args[@]}" -max_total_time="$secs" "$work" "$seeds" >"$log" 2>&1
  fi
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
  if [ "$secs" = 0 ]; then corpus=$(find "$seeds" -type f | wc -l); else corpus=$(find "$work" "$seeds" -type f | wc -l); fi
  line=$(printf '%-18s %10s execs  cov %6s  corpus %5s  %s' "$t" "${execs:-?}" "${cov:-?}" "$corpus" \
    "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")
  echo "$line"; summary+=("$line")
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    grep -a -E -A 25 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant broken|fuzz_[a-z_]+: ' "$log" | head -n 60
    ls "$art" >&2
  fi
done
echo "fuzz: ${#summary[@]} target(s), ${secs}s each, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]} (logs in $build/, crashing inputs in $build/artifacts/)"; exit 1; }
