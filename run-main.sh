#!/usr/bin/env bash
# The main job: build syscage (the NativeAOT executable, artifacts/bin/syscage), then run a workload under the
# built-in default policy with `syscage run`, show what the policy refuses, and tour the classic-BPF tools on the
# sample filter.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-deps.sh
scripts/publish-syscage.sh
syscage() { artifacts/bin/syscage "$@"; }
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

echo "== eBPF seccomp programs (samples/ebpf, compiled with clang -target bpf) under syscage run --ebpf"
for s in pure_filter exec_once fault_inject syscall_count open_logger; do
  clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -Isamples/ebpf -c "samples/ebpf/$s.c" -o "$out/$s.o"
done
echo "-- split: what the kernel decides alone, what reaches the supervisor"
syscage ebpf split "$out/fault_inject.o" --set target_nr=openat | head -n 5
echo "-- pure_filter compiles entirely to classic BPF: $(syscage compile "$out/pure_filter.o" -o "$out/pure.bpf" 2>&1)"
echo "-- exec_once: the command's own exec is the first; the shell's next one fails"
syscage run --ebpf "$out/exec_once.o" -- /bin/sh -c '/bin/true; echo "second exec: exit $?"' 2>&1 || true
echo "-- fault_inject: the 3rd openat of the process fails with ENOENT (after ld.so.cache and libc: the first /etc/hostname)"
LC_ALL=C syscage run --ebpf "$out/fault_inject.o" --set target_nr=openat --set nth=3 --set error=2 --stats -- /bin/cat /etc/hostname /etc/hostname 2>&1 || true
echo "-- syscall_count: counts per syscall, shown at exit"
syscage run --ebpf "$out/syscall_count.o" --maps -- /bin/ls / 2>&1 >/dev/null | head -n 8
echo "-- open_logger: each open as a JSON line (path read with bpf_probe_read_user_str)"
syscage run --ebpf "$out/open_logger.o" -- /bin/cat /etc/hostname 2>&1 | grep '"path"' | tail -n 2
