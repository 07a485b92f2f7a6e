#!/usr/bin/env bash
# The gateway's benchmark, one command on a fresh clone. Installs what it needs (wrk, redis, nginx, Apache httpd +
# mod_auth_openidc from Debian; the rig's node packages for oidc-provider), builds Release and runs:
#   bench/run.sh                 side by side: upstream, nginx proxy_pass, bare YARP, the gateway (anonymous, public
#                                route with cookie, signed in with/without assertion), Apache + mod_auth_openidc;
#                                req/s, p50, p99, CPU µs/request, Redis commands/request, ratios; login/logout;
#                                cross-replica revocation. Options: --duration S --rounds N --connections C --otel
#                                --baseline-dll PATH (another gateway build beside this one) --only b2,c,d (some targets)
#   bench/run.sh --cold-start    time to ready and req/s per second of a replica started under load (warm-up on and
#                                off, tiered PGO, ReadyToRun)
#   bench/run.sh --scale         1k/10k/100k live sessions, cache memory, 1,000 connections, two replicas;
#                                with --baseline-dll PATH: the 1k and 100k spreads on this build and another, side by side
#                                (--env / --baseline-env "NAME=VALUE;..." set settings or runtime knobs on one side only)
#   bench/run.sh --cache-memory  only the in-process heap per cached session and its breakdown (seconds)
#   bench/run.sh --miss-path     only where a cache miss spends its time, part by part (Redis wait, decrypt, ...), and
#                                what a batch of sliding-expiry writes costs as one call against a call a session
#   bench/run.sh --assertion-signing  the gateway's assertion signer beside JsonWebTokenHandler (µs, bytes per token)
#   bench/run.sh --login-cost    what waiting for a replica (WAIT) costs a login, side by side with not waiting
#   bench/run.sh --cluster-scale a 3-primary Redis Cluster at 10k/100k/1M sessions: logins/s, cached and uncached
#                                request cost, Redis memory per session (--sessions 10000,100000,1000000)
# Results also go to bench/results/. Every process it starts is stopped by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
need=()
for tool in wrk redis-server redis-cli nginx node npm; do command -v "$tool" >/dev/null || need+=("$tool"); done
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ] || need+=(libapache2-mod-auth-openidc)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  pkgs=$(printf '%s\n' "${need[@]}" | sed 's/^redis-cli$/redis-tools/; s/^node$/nodejs/' | sort -u | tr '\n' ' ')
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $pkgs >/dev/null
fi
(cd "$root/Gateway.Tests/Rig/node" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
dotnet build "$root/Gateway/Gateway.csproj" -c Release -nologo -v q
dotnet build "$root/bench/Bench/Bench.csproj" -c Release -nologo -v q
exec dotnet "$root/bench/Bench/bin/Release/net10.0/Bench.dll" "$@"
