#!/usr/bin/env bash
# syscage run -- /bin/true against /bin/true and bwrap --seccomp: publishes the tool as installed
# (ReadyToRun, linux-x64) into artifacts/syscage, then times the three. Usage: bench/run-overhead.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish src/Syscage.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o artifacts/syscage --nologo -v quiet >/dev/null
dotnet run -c Release --project bench/Syscage.Bench -- run-overhead "${1:-40}"
