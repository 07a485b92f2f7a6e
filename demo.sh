#!/usr/bin/env bash
# One command to see the gateway working: starts the CMS stand-in (Express) on 127.0.0.1:3000 and
# the gateway on its embedded defaults (in-memory sessions, dev users) on http://127.0.0.1:8080.
#   ./demo.sh        dev users on the gateway's own login form
#   ./demo.sh oidc   sign in at a local OpenID provider (node oidc-provider on 127.0.0.1:3001, any user
#                    name): the CMS's /api routes then receive the user's access token, refreshed every minute
# Stop with Ctrl-C; the node processes are stopped by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
rig="$root/Gateway.Tests/Rig/node"
mode="${1:-dev}"
command -v node >/dev/null || { echo "demo.sh needs Node.js (apt-get install nodejs npm)" >&2; exit 1; }
[ -d "$rig/node_modules" ] || (cd "$rig" && npm ci --no-audit --no-fund --loglevel=error)

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
PORT=3000 SESSION_SECRET=cms-demo-secret GATEWAY_JWKS_URL=http://127.0.0.1:8080/.well-known/jwks.json \
  node "$rig/cms.mjs" &
pids+=($!)

gateway_env=()
if [ "$mode" = oidc ]; then
  (cd "$rig" && PORT=3001 CLIENT_ID=gateway-demo CLIENT_SECRET=gateway-demo-secret \
    REDIRECT_URIS=http://127.0.0.1:8080/signin-oidc POST_LOGOUT_REDIRECT_URIS=http://127.0.0.1:8080/ \
    BACKCHANNEL_LOGOUT_URI=http://127.0.0.1:8080/backchannel-logout ACCESS_TOKEN_TTL=60 node idp.mjs) &
  pids+=($!)
  gateway_env=(
    Gateway__Login__Oidc__Authority=http://127.0.0.1:3001 Gateway__Login__Oidc__AllowHttpAuthority=true
    Gateway__Login__Oidc__ClientId=gateway-demo Gateway__Login__Oidc__ClientSecret=gateway-demo-secret
    Gateway__Login__Oidc__Scopes__0=openid Gateway__Login__Oidc__Scopes__1=email Gateway__Login__Oidc__Scopes__2=profile
    Gateway__Login__Oidc__Scopes__3=roles "ReverseProxy__Routes__cms-api__Metadata__Gateway.ForwardAccessToken=true"
  )
fi

cat <<MSG

  Gateway demo ($mode): open http://127.0.0.1:8080/admin in a browser.
  $([ "$mode" = oidc ] && echo "Sign in at the provider with any user name (admin... gets the admin role)." || echo "Sign in as alice / alice-dev-password (editor) or admin / admin-dev-password (admin).")
  Your sessions: http://127.0.0.1:8080/_gateway/my-sessions   Log out: http://127.0.0.1:8080/admin/logout
  $([ "$mode" = oidc ] && echo "The API with your forwarded access token: http://127.0.0.1:8080/api/whoami")

MSG
cd "$root"
env "${gateway_env[@]}" dotnet run --project Gateway --launch-profile Gateway
