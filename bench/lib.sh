# shellcheck shell=bash
# lib.sh: the arithmetic and the figure list of bench/run.sh (sourced), kept apart so that
# `make bench-check` (bench/check.sh) checks them on fixed inputs, without timing anything.
# Invariants: a value that was not measured is the word null, never 0, and every helper passes null
# through (a median of no values, a ratio with a null or zero side, met without a goal); each figure
# is recorded once, with the bus it ran on and the number of rounds its median came from.

# bench_median V...: the median of the numeric values (null, None and empty ones skipped); null if none
bench_median() {
  printf '%s\n' "$@" | awk '$1 ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/' | sort -g |
    awk '{a[NR] = $1} END {if (NR == 0) print "null"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# bench_max V...: the largest numeric value; null if none
bench_max() {
  printf '%s\n' "$@" | awk '$1 ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/' | sort -g | awk 'END {print NR ? $1 : "null"}'
}

# bench_ratio A B [DIGITS]: A / B with DIGITS (3) decimals; null when A or B is null or B is 0
bench_ratio() {
  awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN {
    if (a == "null" || b == "null" || a == "" || b == "" || b + 0 == 0) print "null"; else printf "%.*f\n", d, a / b }'
}

# bench_met KIND GOAL OURS RATIO: true|false|null. KIND: ratio_max (RATIO <= GOAL), ratio_min
# (RATIO >= GOAL), max (OURS <= GOAL, an absolute bound), none (a diagnostic without a goal: null)
bench_met() {
  local kind=$1 goal=$2 ours=$3 ratio=$4 v
  case $kind in
    ratio_max | ratio_min) v=$ratio ;;
    max) v=$ours ;;
    *) echo null; return 0 ;;
  esac
  awk -v k="$kind" -v g="$goal" -v v="$v" 'BEGIN {
    if (v == "null" || v == "") print "null"
    else if (k == "ratio_min") print (v + 0 >= g + 0) ? "true" : "false"
    else print (v + 0 <= g + 0) ? "true" : "false" }'
}

# bench_goal_text KIND GOAL: how the table writes a goal
bench_goal_text() {
  case $1 in
    ratio_max) echo "<= $2x" ;;
    ratio_min) echo ">= $2x" ;;
    max) echo "<= $2" ;;
    *) echo "-" ;;
  esac
}

BENCH_FIGS=()  # one JSON object a figure, in the order recorded
BENCH_ROWS=()  # the same figures as table rows (tab-separated)

# bench_fig KEY BUS LABEL UNIT OURS BASE BASE_NAME KIND GOAL ROUNDS: records one figure. The ratio is
# OURS / BASE; met comes from KIND and GOAL (bench_met). LABEL, UNIT and BASE_NAME must not hold
# quotes, backslashes or tabs.
bench_fig() {
  local key=$1 bus=$2 label=$3 unit=$4 ours=$5 base=$6 base_name=$7 kind=$8 goal=$9 rounds=${10} ratio met g
  ours=${ours:-null}; base=${base:-null}
  ratio=$(bench_ratio "$ours" "$base")
  met=$(bench_met "$kind" "$goal" "$ours" "$ratio")
  g=null; [ "$kind" = none ] || g="{\"kind\": \"$kind\", \"value\": $goal}"
  BENCH_FIGS+=("{\"key\": \"$key\", \"figure\": \"$label\", \"unit\": \"$unit\", \"bus\": \"$bus\", \"ours\": $ours, \"baseline\": $base, \"baseline_name\": \"$base_name\", \"ratio\": $ratio, \"goal\": $g, \"met\": $met, \"rounds\": $rounds}")
  BENCH_ROWS+=("$label ($unit)"$'\t'"$bus"$'\t'"$ours"$'\t'"$base $base_name"$'\t'"$ratio"$'\t'"$(bench_goal_text "$kind" "$goal")"$'\t'"$met")
}

# bench_figs_json: the recorded figures as the lines of a JSON array (without the brackets)
bench_figs_json() {
  local i n=${#BENCH_FIGS[@]}
  for ((i = 0; i < n; i++)); do
    if ((i < n - 1)); then echo "    ${BENCH_FIGS[$i]},"; else echo "    ${BENCH_FIGS[$i]}"; fi
  done
}

# bench_table: the recorded figures as a table: figure, bus, ours, baseline, ratio, goal, met
bench_table() {
  local row
  local -a f
  printf '%-46s %-9s %10s %-24s %8s %8s %5s\n' figure bus ours baseline ratio goal met
  for row in "${BENCH_ROWS[@]}"; do
    IFS=$'\t' read -r -a f <<<"$row"
    printf '%-46s %-9s %10s %-24s %8s %8s %5s\n' "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" "${f[4]}" "${f[5]}" "${f[6]}"
  done
}
