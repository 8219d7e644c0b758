#!/usr/bin/env bash
# Installs the Debian packages Syscage's tools and tests use, when any is missing. Idempotent; needs root
# (or sudo) only when something is missing. Runs `apt-get update` once before installing.
set -euo pipefail

packages=(
  gcc libc6-dev linux-libc-dev manpages-dev   # native test probe, uapi headers, syscall argument names
  libseccomp2 libseccomp-dev python3-seccomp  # libseccomp: the differential oracle
  clang llvm libbpf-dev                       # eBPF programs (clang -target bpf, bpf_helpers.h); clang links NativeAOT
  zlib1g-dev                                  # NativeAOT's runtime links libz
  runc bubblewrap busybox-static              # real clients: runc, bwrap --seccomp, a container rootfs
  strace hyperfine                            # benchmark anchors
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross # the launcher for linux-arm64, shipped in the Syscage package
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "ensure-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
