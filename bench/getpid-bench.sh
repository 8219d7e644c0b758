#!/usr/bin/env bash
# Issue 16: the eBPF-seccomp patch set's benchmark shape (a .bss counter allows the first half of 1,000,000 getpid
# calls, every one notified) under `syscage run --ebpf` against a minimal C notification loop with SYNC_WAKE_UP, in
# one run. Publishes the tool as installed (the NativeAOT executable, artifacts/bin/syscage) first; SYSCAGE_CLI=PATH
# times another build instead.
# Usage: bench/getpid-bench.sh [CALLS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/publish-syscage.sh
dotnet run -c Release --project bench/Syscage.Bench -- getpid "${1:-1000000}" "${2:-7}"
