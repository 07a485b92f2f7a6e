#!/usr/bin/env bash
# The whole test suite, on a fresh clone of this machine kind: installs what is missing
# (redis-server, Chromium + chromedriver, wrk from Debian; the rig's node packages with npm ci),
# runs every test against the real parts, and ends with one line "N passed, N failed, N skipped"
# taken from the test results file.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
cd "$root"

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli    >/dev/null || need+=(redis-tools)
command -v chromium     >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v kubectl      >/dev/null || echo "note: kubectl not found; the k8s manifest tests will fail and say so" >&2
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "Node.js is required (apt-get install nodejs npm)" >&2; exit 1; }
(cd Gateway.Tests/Rig/node && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; })

results="$root/Gateway.Tests/TestResults"
rm -rf "$results"
set +e
dotnet test Gateway.sln --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
status=$?
set -e

trx=$(find "$results" -name '*.trx' 2>/dev/null | head -n 1)
if [ -z "$trx" ]; then
  echo "0 passed, 1 failed (no test results were written; see the output above)"
  exit 1
fi
python3 - "$trx" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
c = ET.parse(sys.argv[1]).getroot().find("t:ResultSummary/t:Counters", ns).attrib
total, passed, failed = int(c["total"]), int(c["passed"]), int(c["failed"]) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
skipped = total - passed - failed
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
