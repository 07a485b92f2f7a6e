#!/usr/bin/env bash
# One command to see the gateway working: starts the CMS stand-in (Express) on 127.0.0.1:3000 and
# the gateway on its embedded defaults (in-memory sessions, dev users) on http://127.0.0.1:8080.
# Stop with Ctrl-C; the CMS is stopped by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
rig="$root/Gateway.Tests/rig/node"
command -v node >/dev/null || { echo "demo.sh needs Node.js (apt-get install nodejs npm)" >&2; exit 1; }
[ -d "$rig/node_modules" ] || (cd "$rig" && npm ci --no-audit --no-fund --loglevel=error)

PORT=3000 SESSION_SECRET=cms-demo-secret GATEWAY_JWKS_URL=http://127.0.0.1:8080/.well-known/jwks.json \
  node "$rig/cms.mjs" &
cms_pid=$!
trap 'kill "$cms_pid" 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  Gateway demo: open http://127.0.0.1:8080/admin in a browser.
  Sign in as alice / alice-dev-password (editor) or admin / admin-dev-password (admin).
  Public page: http://127.0.0.1:8080/   Log out: http://127.0.0.1:8080/admin/logout

MSG
cd "$root"
dotnet run --project Gateway --launch-profile Gateway
