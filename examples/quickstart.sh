#!/usr/bin/env bash
# Runs Switchyard locally on examples/quickstart.yaml in front of the mock provider (which
# plays OpenAI on 127.0.0.1:9090): no cluster, no provider keys. Ctrl-C stops both.
#
#   examples/quickstart.sh
#
# The gateway listens on 127.0.0.1:8080 (OpenAI API) and 127.0.0.1:9901 (admin: /metrics,
# /config, /readyz). Edit examples/quickstart.yaml while it runs: changes are hot-reloaded.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}
listen=${SWITCHYARD_LISTEN:-127.0.0.1:8080}
admin=${SWITCHYARD_ADMIN_LISTEN:-127.0.0.1:9901}

echo "building switchyard-proxy and the mock provider (the first build takes a few minutes)..." >&2
cargo build --quiet -p switchyard-proxy -p switchyard-mock-provider

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$target/debug/switchyard-mock-provider" --port 9090 --any-key >/dev/null &
pids+=($!)
"$target/debug/switchyard-proxy" --config examples/quickstart.yaml \
  --listen "$listen" --admin-listen "$admin" &
pids+=($!)

for _ in $(seq 1 100); do
  if curl -fsS "http://$admin/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -fsS "http://$admin/readyz" >/dev/null || { echo "the gateway did not become ready" >&2; exit 1; }

cat <<MSG

Switchyard is serving on http://$listen (admin on http://$admin). Try:

  curl http://$listen/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello, Switchyard"}]}'

  curl -N http://$listen/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "Stream this"}]}'

  curl http://$admin/metrics

Press Ctrl-C to stop.
MSG
wait
