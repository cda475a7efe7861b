# sandbox.sh: what the coordinator's sandbox offers on this host, for the sandbox integration tests
# (sourced after stack.sh, once the stack runs). The coordinator says it in its log at start
# ("sandbox for local steps: ..."); a test that needs a kernel feature this host lacks (not root,
# no cgroups, no network namespaces) skips with that line as the reason, and only then.
#   sandbox_need cgroup|netns|user|volume ...   (exits 0 with "SKIP: ..." when one is missing)

sandbox_label() {
  grep -a -o 'sandbox for local steps: [^"]*' "$STACK_DIR/coordinator-${1:-0}.log" | head -n 1 | cut -d' ' -f5-
}

sandbox_need() {
  local label what
  label=$(sandbox_label)
  if [ -z "$label" ]; then echo "FAIL: the coordinator did not log its sandbox" >&2; exit 1; fi
  for what in "$@"; do
    case "$what" in
      cgroup) echo "$label" | grep -q '^cgroup v' && continue ;;
      netns) echo "$label" | grep -q '; network namespaces' && continue ;;
      user) echo "$label" | grep -q '; steps as user ' && continue ;;
      volume) echo "$label" | grep -q '; tmpfs volumes' && continue ;;
    esac
    echo "SKIP: this host's sandbox has no $what: $label"
    exit 0
  done
}
