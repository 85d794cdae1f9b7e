#!/usr/bin/env bash
# Response-cache throughput: the same OpenAI chat completion through one Switchyard proxy on
# three routes side by side, against the mock provider with zero delay (so a miss costs the
# proxy's own upstream work, not a provider's latency):
#   plain    no cache policy (the plain proxy path);
#   miss     a cache whose maxEntryBytes (1) no answer fits: every request is a lookup miss,
#            a capture and a skipped store;
#   hit      a cache: after the first request every request is a memory-tier hit.
# Each leg: oha, closed loop, 32 connections, 10 s after a 2 s warm-up; the proxy (1 worker
# thread) pinned to core 0, mock and client to core 1. Prints a Markdown table.
# Not a test: CI never runs it.
#
#   tests/bench/cache.sh [--duration SECONDS]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

duration=10
while (($#)); do
  case $1 in
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done

say() { echo "bench: $*" >&2; }
cache=$("$here/install.sh")
oha=$cache/oha-$OHA_VERSION/bin/oha
bin=${CARGO_TARGET_DIR:-$repo/target}/release
say "building switchyard-proxy and the mock provider (release)"
(cd "$repo" && cargo build --quiet --release -p switchyard-proxy -p switchyard-mock-provider)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

taskset -c 1 "$bin/switchyard-mock-provider" --port 0 --record-limit 0 > "$work/mock.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$work/mock.log" && break; sleep 0.1; done
mock_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/mock.log")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) admin=$(free_port)
{
  sed "s/@MOCK_PORT@/$mock_port/" "$here/switchyard.yaml"
  for route in plain miss hit; do
    printf -- '---\napiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: %s}\nspec:\n  models: [%s]\n  backends: [{modelRef: {name: mock-gpt-4o-mini}}]\n' "$route" "$route"
  done
  printf -- '---\napiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {name: miss}\nspec:\n  targetRefs: [{kind: AIRoute, name: miss}]\n  cache: {maxEntryBytes: 1, scope: shared}\n'
  printf -- '---\napiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {name: hit}\nspec:\n  targetRefs: [{kind: AIRoute, name: hit}]\n  cache: {ttl: 1h, scope: shared}\n'
} > "$work/switchyard.yaml"
taskset -c 0 "$bin/switchyard-proxy" --config "$work/switchyard.yaml" --listen "127.0.0.1:$port" \
  --admin-listen "127.0.0.1:$admin" --threads 1 --access-log off > "$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$admin/readyz" > /dev/null && break; sleep 0.1; done

run() { # model seconds -> "rps p50_us p99_us success"
  local body
  body=$(printf '{"model":"%s","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32}' "$1")
  taskset -c 1 "$oha" --no-tui --output-format json -z "${2}s" -c 32 -m POST \
    -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/v1/chat/completions" |
    jq -r '"\(.summary.requestsPerSec|floor) \(.latencyPercentiles.p50*1e6|floor) \(.latencyPercentiles.p99*1e6|floor) \(.summary.successRate)"'
}

echo "## Cache-hit throughput (1 proxy thread on core 0; mock and oha on core 1; c=32; ${duration}s)"
echo
echo "| leg | req/s | p50 µs | p99 µs | success |"
echo "|---|---|---|---|---|"
for leg in plain miss hit; do
  run "$leg" 2 > /dev/null
  read -r rps p50 p99 ok < <(run "$leg" "$duration")
  echo "| $leg | $rps | $p50 | $p99 | $ok |"
done
echo
curl -fs "http://127.0.0.1:$admin/metrics" | grep '^switchyard_cache_lookups_total' | sed 's/^/    /'
