#!/usr/bin/env bash
# Issue 16: the eBPF-seccomp patch set's benchmark shape (a .bss counter allows the first half of 1,000,000 getpid
# calls, every one notified) under `syscage run --ebpf` against a minimal C notification loop with SYNC_WAKE_UP, in
# one run. Publishes the tool as installed (ReadyToRun, linux-x64) into artifacts/syscage first.
# Usage: bench/getpid-bench.sh [CALLS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish src/Syscage.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o artifacts/syscage --nologo -v quiet >/dev/null
dotnet run -c Release --project bench/Syscage.Bench -- getpid "${1:-1000000}" "${2:-7}"
