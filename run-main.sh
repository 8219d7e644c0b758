#!/usr/bin/env bash
# The main job: build the syscage tool and show the classic-BPF toolkit on the sample filter.
# (When enforcement lands this becomes `syscage run` on the built-in default policy.)
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-deps.sh
dotnet build src/Syscage.Cli -c Release --nologo -v quiet >/dev/null
syscage() { dotnet src/Syscage.Cli/bin/Release/net10.0/Syscage.Cli.dll "$@"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== syscage asm samples/bpf/allowlist.asm"
syscage asm samples/bpf/allowlist.asm -o "$out/allowlist.bpf"
echo "== syscage check"
syscage check "$out/allowlist.bpf"
echo "== syscage disasm (first lines)"
syscage disasm "$out/allowlist.bpf" | head -12
for call in "read" "openat 0 0x1000 0" "openat 0 0x1000 2" "ptrace" "socket" "0x40000000"; do
  # shellcheck disable=SC2086
  echo "== syscage emu allowlist.bpf $call -> $(syscage emu "$out/allowlist.bpf" $call | tail -n 1)"
done
echo "== the same filter under bwrap: cat is allowed, an O_RDWR open is refused"
if command -v bwrap >/dev/null; then
  bwrap --ro-bind / / --dev /dev --seccomp 3 /bin/cat /etc/hostname 3<"$out/allowlist.bpf" || true
  bwrap --ro-bind / / --dev /dev --seccomp 3 /bin/sh -c 'exec 3<>/tmp/x' 3<"$out/allowlist.bpf" 2>&1 || true
fi
