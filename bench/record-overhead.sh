#!/usr/bin/env bash
# Issue #15: `syscage record` against `strace -f -c` on the same workloads (bench/native/workload.c and ls -lR
# /usr/share), each against the workload alone, one run each after a warm-up. Publishes the tool as installed
# (ReadyToRun, linux-x64) into artifacts/syscage, then times them. Usage: bench/record-overhead.sh [GETPPID_CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish src/Syscage.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o artifacts/syscage --nologo -v quiet >/dev/null
dotnet run -c Release --project bench/Syscage.Bench -- record-overhead "${1:-1000000}"
