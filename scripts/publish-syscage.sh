#!/usr/bin/env bash
# Publishes `syscage` as users get it: the NativeAOT executable for this machine (one file, the launcher inside),
# into artifacts/bin/syscage, mode 0755. run-main.sh and run-tests.sh call it; the tests that run the tool as a
# process run this file. Usage: scripts/publish-syscage.sh [extra dotnet publish arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "publish-syscage: no NativeAOT build for $(uname -m)" >&2; exit 1 ;;
esac
out=artifacts/publish/$rid
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! dotnet publish src/Syscage.Cli -c Release -r "$rid" -o "$out" --nologo "$@" >"$log" 2>&1; then
  cat "$log" >&2
  echo "publish-syscage: dotnet publish failed" >&2
  exit 1
fi
mkdir -p artifacts/bin
install -m 0755 "$out/Syscage.Cli" artifacts/bin/syscage.new
mv -f artifacts/bin/syscage.new artifacts/bin/syscage
