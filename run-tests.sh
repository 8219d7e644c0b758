#!/usr/bin/env bash
# Runs every Syscage test. Installs missing Debian packages first (scripts/ensure-deps.sh).
# Ends with one summary line: "Tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
scripts/ensure-deps.sh || { echo "run-tests: installing dependencies failed" >&2; exit 1; }
# The tests that run syscage as a process run the NativeAOT executable users get (artifacts/bin/syscage).
scripts/publish-syscage.sh || { echo "run-tests: publishing the native syscage failed" >&2; exit 1; }

log=$(mktemp)
dotnet test Syscage.slnx -c Release --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12 ...").
read -r passed failed skipped < <(sed -n 's/.*Failed: *\([0-9]*\), Passed: *\([0-9]*\), Skipped: *\([0-9]*\).*/\2 \1 \3/p' "$log" |
  awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "Tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
