#!/usr/bin/env bash
# Issue #15: `syscage record` against `strace -f -c` on the same workloads (bench/native/workload.c and ls -lR
# /usr/share), each against the workload alone, one run each after a warm-up. Publishes the tool as users get it
# (scripts/publish-syscage.sh: the NativeAOT executable), then times them. Usage: bench/record-overhead.sh [GETPPID_CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/publish-syscage.sh
dotnet run -c Release --project bench/Syscage.Bench -- record-overhead "${1:-1000000}"
