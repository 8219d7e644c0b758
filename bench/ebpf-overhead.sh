#!/usr/bin/env bash
# Issue #7: eBPF seccomp programs under `syscage run --ebpf` (kernel half in classic BPF, the rest in the supervisor)
# against the workload alone, plain classic BPF, strace --seccomp-bpf fault injection and strace -c. Publishes the
# tool as installed (the NativeAOT executable, scripts/publish-syscage.sh) into artifacts/bin/syscage, then times them.
# Usage: bench/ebpf-overhead.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/publish-syscage.sh
dotnet run -c Release --project bench/Syscage.Bench -- ebpf-overhead "${1:-5}"
