#!/usr/bin/env bash
# Side-by-side benchmark: upstream vs bare YARP vs the gateway (anonymous, signed in with and without
# the assertion), plus Redis commands per request, login/logout latency and cross-replica revocation.
# Prints ratios; results also go to bench/results/latest.txt. Options: --duration S --rounds N --connections C --baseline-dll PATH (another build, measured beside this one)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for tool in wrk redis-server redis-cli nginx; do
  command -v "$tool" >/dev/null || { echo "installing $tool" >&2; apt-get install -y -qq wrk redis-server redis-tools nginx >/dev/null; }
done
dotnet build "$root/Gateway/Gateway.csproj" -c Release -nologo -v q
dotnet build "$root/bench/Bench/Bench.csproj" -c Release -nologo -v q
exec dotnet "$root/bench/Bench/bin/Release/net10.0/Bench.dll" "$@"
