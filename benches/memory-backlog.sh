#!/usr/bin/env bash
# Memory under a webhook backlog: `handoff run` as its own process against standalone
# emulators, loaded with N signed HubSpot events by `examples/intake_load` in --target mode
# (intake only: the contacts do not exist, so the worker drains each change with one batched
# read and no saga). Samples VmRSS, VmHWM and the inbox depth every second to a CSV, waits until
# the inbox and outbox are empty, then 10 s idle, and prints one summary line.
#
#   EVENTS=1000000 CACHE_MB=16 OUT=/tmp/mem bash benches/memory-backlog.sh
#
# EVENTS (default 1,000,000), CONCURRENCY (16), BATCH (100: HubSpot's largest delivery),
# CACHE_MB (state.cache_mb; empty: the config default), DATA (the shared datasets),
# BIN / LOAD (prebuilt binaries; default: cargo build --release), OUT (work folder).
# Loopback only; ports 18080, 18101-18103 and 19465 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-1000000}
CONCURRENCY=${CONCURRENCY:-16}
BATCH=${BATCH:-100}
CACHE_MB=${CACHE_MB:-}
DATA=${DATA:-$(cd .. && pwd)/shared/datasets}
OUT=${OUT:-/tmp/handoff-memory}
if [[ -z "${BIN:-}" || -z "${LOAD:-}" ]]; then
  cargo build --release --quiet --bin handoff --example intake_load
  BIN=${BIN:-target/release/handoff}
  LOAD=${LOAD:-target/release/examples/intake_load}
fi
rm -rf "$OUT" && mkdir -p "$OUT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$BIN" emulate hubspot --listen 127.0.0.1:18101 --data "$DATA" >"$OUT/hubspot.log" 2>&1 & pids+=($!)
"$BIN" emulate slack --listen 127.0.0.1:18102 --data "$DATA" >"$OUT/slack.log" 2>&1 & pids+=($!)
"$BIN" emulate asana --listen 127.0.0.1:18103 --data "$DATA" >"$OUT/asana.log" 2>&1 & pids+=($!)

# The sandbox config with the emulators' addresses, production-like polling, no SMTP.
sed -e 's|^listen: .*|listen: 127.0.0.1:18080|' \
    -e 's|^admin_listen: .*|admin_listen: 127.0.0.1:19465|' \
    -e 's|^public_url: .*|public_url: http://127.0.0.1:18080/|' \
    -e "s|^state_dir: .*|state_dir: $OUT/state|" \
    -e "s|^mappings_dir: .*||" \
    -e 's|schedule: "\*/15 \* \* \* \* \*".*|schedule: "0 */5 * * * *"|' \
    -e 's|^  type: hubspot|  type: hubspot\n  base_url: http://127.0.0.1:18101/|' \
    -e 's|^  type: asana|  type: asana\n  base_url: http://127.0.0.1:18103/|' \
    -e 's|^slack:|slack:\n  base_url: http://127.0.0.1:18102/api/|' \
    -e "s|rules: ../../examples/routing.yaml|rules: $PWD/examples/routing.yaml|" \
    -e "s|template: ../../templates/|template: $PWD/templates/|" \
    src/sandbox/handoff.yaml >"$OUT/handoff.yaml"
# Drop the smtp and after_hours sections (no sink runs here).
python3 - "$OUT/handoff.yaml" "$PWD/mappings" "$CACHE_MB" <<'PY'
import re, sys
path, mappings, cache = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
text = re.sub(r"\nsmtp:\n(  .*\n)+", "\n", text)
text = re.sub(r"\n  after_hours:.*\n(    .*\n)+", "\n", text)
text += f"mappings_dir: {mappings}\n"
if cache:
    text += f"state:\n  cache_mb: {cache}\n"
open(path, "w").write(text)
PY
export HANDOFF_SANDBOX_HUBSPOT_TOKEN=pat-na1-emulator-token
export HANDOFF_SANDBOX_HUBSPOT_CLIENT_SECRET=emulator-client-secret
export HANDOFF_SANDBOX_SLACK_TOKEN=xoxb-handoff-emulator
export HANDOFF_SANDBOX_SLACK_SIGNING_SECRET=handoff-emulator-signing-secret
export HANDOFF_SANDBOX_ASANA_TOKEN=2/1100000000000001/1210000000000000:emulator
sleep 1
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} "$BIN" run --config "$OUT/handoff.yaml" >"$OUT/daemon.log" 2>&1 & D=$!
pids+=($D)
for _ in $(seq 1 120); do
  curl -sf http://127.0.0.1:18080/readyz >/dev/null && break
  sleep 0.5
done
curl -sf http://127.0.0.1:18080/readyz >/dev/null || { echo "daemon not ready"; tail "$OUT/daemon.log"; exit 1; }
sleep 10
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$D/status"; }
START_RSS=$(kb VmRSS)

depth() { curl -sf http://127.0.0.1:19465/admin/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["inbox_depth"], s["outbox_depth"])' 2>/dev/null || echo "? ?"; }
( echo "t_s,vmrss_kb,vmhwm_kb,inbox,outbox"
  t0=$(date +%s)
  while kill -0 "$D" 2>/dev/null; do
    read -r i o < <(depth)
    echo "$(( $(date +%s) - t0 )),$(kb VmRSS),$(kb VmHWM),$i,$o"
    sleep 1
  done ) >"$OUT/samples.csv" & pids+=($!)

"$LOAD" --target http://127.0.0.1:18080/ --secret emulator-client-secret \
  --events "$EVENTS" --concurrency "$CONCURRENCY" --batch "$BATCH" --time-limit-s 1200 >"$OUT/load.json"
LOADED_RSS=$(kb VmRSS)
MAX_INBOX=$(awk -F, 'NR > 1 && $4 ~ /^[0-9]+$/ && $4 > m { m = $4 } END { print m + 0 }' "$OUT/samples.csv")
T_DRAIN=$(date +%s)
while :; do
  read -r i o < <(depth)
  [[ "$i" == 0 && "$o" == 0 ]] && break
  sleep 2
done
T_DRAIN=$(( $(date +%s) - T_DRAIN ))
sleep 10
MAX_INBOX=$(awk -F, 'NR > 1 && $4 ~ /^[0-9]+$/ && $4 > m { m = $4 } END { print m + 0 }' "$OUT/samples.csv")
printf '{"events": %s, "cache_mb": "%s", "rss_start_kb": %s, "rss_after_intake_kb": %s, "hwm_kb": %s, "rss_idle_after_drain_kb": %s, "max_inbox": %s, "drain_s_after_intake": %s, "load": %s}\n' \
  "$EVENTS" "${CACHE_MB:-default}" "$START_RSS" "$LOADED_RSS" "$(kb VmHWM)" "$(kb VmRSS)" "$MAX_INBOX" "$T_DRAIN" "$(cat "$OUT/load.json")"
