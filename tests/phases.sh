# Phase timings for the build-and-test scripts, sourced by them:
#   begin NAME; ...; end                  times one phase
#   trap 'phases_summary LABEL' EXIT      prints every phase's time and the
#                                         exit status, whatever the outcome
# phases_summary must run first in the trap (it reads $?).

phases=()
phase_start=0
current=""
begin() { current="$1"; phase_start=$SECONDS; echo "== $1"; }
end() { phases+=("$(printf '%-10s %4ds' "$current" $((SECONDS - phase_start)))"); current=""; }
phases_summary() {
  local rc=$?
  [[ -n "$current" ]] && phases+=("$(printf '%-10s %4ds (failed)' "$current" $((SECONDS - phase_start)))")
  echo "== timings ($1)"
  local line
  for line in "${phases[@]}"; do echo "  $line"; done
  echo "== exit status $rc"
}
