#!/usr/bin/env bash
# The main job: build syscage, then run a workload under the built-in default policy with `syscage run`,
# show what the policy refuses, and tour the classic-BPF tools on the sample filter.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-deps.sh
dotnet build src/Syscage.Cli -c Release --nologo -v quiet >/dev/null
syscage() { dotnet src/Syscage.Cli/bin/Release/net10.0/Syscage.Cli.dll "$@"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== syscage run -- (a shell, coreutils and python3 under the default policy)"
syscage run -- /bin/sh -c '
  echo "hello from $(uname -s) as uid $(id -u)"
  ls / | head -n 3
  python3 -c "import os; print(\"python sees pid\", os.getpid())" 2>/dev/null || true
  unshare -U true 2>/dev/null; echo "unshare (new namespaces): exit $? (refused)"
  mount -t tmpfs none /mnt 2>/dev/null; echo "mount: exit $? (refused)"
'
echo "exit status: $?"

echo "== syscage explain default unshare"
syscage explain default unshare 0x10000000 | tail -n 3

echo "== syscage compile default -o default.bpf; syscage check default"
syscage compile default -o "$out/default.bpf"
syscage check default

echo "== classic-BPF tools on samples/bpf/allowlist.asm"
syscage asm samples/bpf/allowlist.asm -o "$out/allowlist.bpf"
syscage disasm "$out/allowlist.bpf" | head -n 6
for call in "read" "openat 0 0x1000 0" "openat 0 0x1000 2" "ptrace" "0x40000000"; do
  # shellcheck disable=SC2086
  echo "syscage emu allowlist.bpf $call -> $(syscage emu "$out/allowlist.bpf" $call | tail -n 1)"
done
