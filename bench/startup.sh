#!/usr/bin/env bash
# Issue #14: how fast the native syscage starts, against bwrap with the same filter, in one run of interleaved
# rounds (bench/native/startup.c: spawn to exit, medians). Publishes the NativeAOT tool first
# (scripts/publish-syscage.sh). Usage: bench/startup.sh [ROUNDS]   (default 200)
#   syscage run -- /bin/true                 vs  bwrap --dev-bind / / --seccomp 3 /bin/true  3<default.bpf
#   syscage run --ebpf pure_filter.o -- ...  vs  bwrap ... with the filter syscage compiles from pure_filter.o
#   syscage compile default -o f.bpf         (absolute)
#   syscage run --ebpf exec_once.o -- ...    (absolute: a program that needs the supervisor, so the start includes
#                                             its split, listener and worker; bwrap has nothing to compare)
# --no-pie also times the same sources linked as a position-dependent executable (published into a scratch folder,
# never shipped): what ld.so's relocation of the PIE's .data costs at every start, beside the build users get.
# Usage: bench/startup.sh [--no-pie] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
no_pie=false
if [ "${1:-}" = --no-pie ]; then no_pie=true; shift; fi
rounds=${1:-200}
scripts/publish-syscage.sh
syscage=$PWD/artifacts/bin/syscage
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
extra=()
if $no_pie; then
  if ! dotnet publish src/Syscage.Cli -c Release --use-current-runtime --nologo --artifacts-path "$work/artifacts" \
      -p:PositionIndependentExecutable=false -o "$work/nopie" >"$work/nopie.log" 2>&1; then
    cat "$work/nopie.log" >&2
    echo "startup: the non-PIE publish failed" >&2
    exit 1
  fi
  extra=(--- "syscage run (non-PIE build)" - "$work/nopie/Syscage.Cli" run -- /bin/true
         --- "syscage --version (non-PIE build)" - "$work/nopie/Syscage.Cli" --version)
fi
cc -O2 -Wall -Werror -o "$work/startup" bench/native/startup.c
for sample in pure_filter exec_once; do
  clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -Isamples/ebpf -c samples/ebpf/$sample.c -o "$work/$sample.o"
done
"$syscage" compile default -o "$work/default.bpf" 2>/dev/null
"$syscage" compile "$work/pure_filter.o" -o "$work/pure.bpf" >/dev/null
bwrap=$(command -v bwrap)

"$work/startup" "$rounds" \
  "/bin/true" - /bin/true --- \
  "bwrap --seccomp (default.bpf)" "$work/default.bpf" "$bwrap" --dev-bind / / --seccomp 3 /bin/true --- \
  "syscage run -- /bin/true" - "$syscage" run -- /bin/true --- \
  "bwrap --seccomp (pure.bpf)" "$work/pure.bpf" "$bwrap" --dev-bind / / --seccomp 3 /bin/true --- \
  "syscage run --ebpf pure_filter.o" - "$syscage" run --ebpf "$work/pure_filter.o" -- /bin/true --- \
  "syscage run --ebpf exec_once.o" - "$syscage" run --ebpf "$work/exec_once.o" -- /bin/true --- \
  "syscage compile default -o f.bpf" - "$syscage" compile default -o "$work/f.bpf" --- \
  "syscage --version" - "$syscage" --version "${extra[@]}" >"$work/times"

median() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$work/times"; }
echo "startup, $rounds interleaved rounds, median wall ms (min, max) — $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F'\t' '{ printf "  %-36s %7.2f ms  (%.2f .. %.2f)\n", $1, $2, $3, $4 }' "$work/times"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
run=$(median "syscage run -- /bin/true"); bw=$(median "bwrap --seccomp (default.bpf)")
ebpf=$(median "syscage run --ebpf pure_filter.o"); bwp=$(median "bwrap --seccomp (pure.bpf)")
compile=$(median "syscage compile default -o f.bpf")
status=0
check() { # NAME VALUE LIMIT UNIT
  if awk -v v="$2" -v l="$3" 'BEGIN { exit !(v <= l) }'; then verdict=met; else verdict=MISSED; status=1; fi
  printf "  %-52s %6s%s  (target <= %s%s: %s)\n" "$1" "$2" "$4" "$3" "$4" "$verdict"
}
echo "targets"
check "syscage run -- /bin/true / bwrap --seccomp" "$(ratio "$run" "$bw")" 2 x
check "syscage run --ebpf pure_filter.o / bwrap --seccomp" "$(ratio "$ebpf" "$bwp")" 3 x
check "syscage compile default -o f.bpf" "$compile" 15 " ms"
if $no_pie; then
  echo "not shipped (the tool keeps ASLR for its own image)"
  printf "  %-52s %6sx\n" "syscage run (non-PIE build) / bwrap --seccomp" \
    "$(ratio "$(median "syscage run (non-PIE build)")" "$bw")"
fi
exit $status
