#!/usr/bin/env bash
# Side-by-side gateway benchmark: the same OpenAI chat completion against the mock provider
# (zero delay), directly and through nginx, Switchyard, LiteLLM and Portkey, on this machine.
# Prints a Markdown table (one row per leg) and Switchyard's numbers against its targets.
# Not a test: CI never runs it.
#
#   tests/bench/gateways.sh                  # all legs, 10 s per phase: ~4 minutes
#   tests/bench/gateways.sh --quick          # 3 s per phase, 50 streams: ~2 minutes
#   tests/bench/gateways.sh --legs direct,nginx,switchyard --rate 1000
#
# Per leg, with the gateway started fresh and warmed up:
#   c=1        wrk, 1 connection, closed loop; gateway, mock and client all pinned to core 0.
#              Latency p50/p99 and the gateway's CPU time per request.
#   c=32       wrk, 32 connections; gateway alone on core 0, mock and client on core 1.
#              Max throughput and CPU time per request.
#   open loop  oha at a fixed --rate (default 100/s) over 32 connections with
#              --latency-correction (coordinated omission corrected); pinned as c=32.
#   stream     tests/bench/client: streams of 64 content chunks one after another; pinned as
#              c=32. Time to first token and the gaps between chunks.
#   RSS        VmRSS of the gateway's process tree after the runs.
# CPU time is utime+stime from /proc/PID/stat summed over the gateway's process tree (nginx
# master and worker, LiteLLM's workers), before and after a phase, divided by its requests.
# "added" is the leg minus the direct leg.
#
# Tools come from tests/bench/install.sh (pins in versions.sh), cached outside the repository
# in ${SWITCHYARD_CACHE:-~/.cache/switchyard}/bench; binaries are built with
# `cargo build --release` into ${CARGO_TARGET_DIR:-target}. A leg that cannot start (e.g. a
# switchyard-proxy that does not build or does not answer) is reported as failed, the other
# legs still run, and the script exits 1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

legs=(direct nginx switchyard litellm portkey)
rate=100
quick=
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --legs) IFS=, read -r -a legs <<< "${2:?--legs needs a list}"; shift ;;
    --rate) rate=${2:?--rate needs a number}; shift ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
  shift
done
if [[ -n $quick ]]; then
  duration=3 warmup=1 stream_requests=50
else
  duration=10 warmup=2 stream_requests=200
fi
chunks=64

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

(($(nproc) >= 2)) || die "needs at least 2 cores (gateway on core 0, mock and client on core 1)"

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 1) }'; then
  say "warning: load average $load: other work on this machine will show up in the p99s"
fi

cache=$("$here/install.sh")
oha=$cache/oha-$OHA_VERSION/bin/oha
litellm=$cache/litellm-$LITELLM_VERSION/bin/litellm
portkey=$cache/portkey-$PORTKEY_VERSION/node_modules/@portkey-ai/gateway
nginx=/usr/sbin/nginx

bin=${CARGO_TARGET_DIR:-$repo/target}/release
say "building the mock provider and the stream client (release)"
(cd "$repo" && cargo build --quiet --release -p switchyard-mock-provider -p switchyard-bench-client)

# Other work on the machine shares these cores; as root, everything measured runs at the highest
# priority so that it preempts them instead of the other way round.
prio=()
if nice -n -20 true 2> /dev/null; then prio=(nice -n -20); fi

work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX")
chmod 755 "$work"
services=()

# Stops every process group this script started, by its recorded id.
cleanup() {
  local pid
  for pid in "${services[@]}"; do
    kill -TERM -- "-$pid" 2> /dev/null || true
  done
  sleep 0.5
  for pid in "${services[@]}"; do
    kill -KILL -- "-$pid" 2> /dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME CPU COMMAND...: runs COMMAND in its own session (so its whole process tree can be
# stopped by group id) on CPU, logging to $work/NAME.log; sets $started to its pid.
start() {
  local name=$1 cpu=$2
  shift 2
  setsid "${prio[@]}" taskset -c "$cpu" "$@" > "$work/$name.log" 2>&1 < /dev/null &
  started=$!
  services+=("$started")
}

stop() {
  local pid=$1
  kill -TERM -- "-$pid" 2> /dev/null || return 0
  for _ in {1..50}; do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2> /dev/null || true
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The pid and all its descendants.
tree() {
  local child
  echo "$1"
  for child in $(pgrep -P "$1" || true); do tree "$child"; done
}

# utime+stime of a process tree, in clock ticks.
cpu_ticks() {
  local pid total=0 fields
  for pid in $(tree "$1"); do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2> /dev/null) || continue
    read -r -a f <<< "$fields"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

rss_kib() {
  local pid total=0 kib
  for pid in $(tree "$1"); do
    kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2> /dev/null) || continue
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

# pin CPU PID...: moves every thread of these process trees to CPU.
pin() {
  local cpu=$1 root pid
  shift
  for root in "$@"; do
    for pid in $(tree "$root"); do
      taskset -a -p -c "$cpu" "$pid" > /dev/null 2>&1 || true
    done
  done
}

request_body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark in a few words"}]}'

# wait_ready NAME PID URL: until a chat completion through URL answers 200, or fail with the
# service's log.
wait_ready() {
  local name=$1 pid=$2 url=$3 code header curl_headers=()
  for header in "${headers[@]}"; do curl_headers+=(-H "$header"); done
  for _ in {1..240}; do
    if ! kill -0 "$pid" 2> /dev/null; then
      say "$name exited during startup; last lines of its log:"
      tail -n 20 "$work/$name.log" >&2
      return 1
    fi
    code=$(curl -s -o "$work/$name.ready" -w '%{http_code}' --max-time 5 -X POST \
      -H 'Content-Type: application/json' -H 'Authorization: Bearer mock-key' \
      "${curl_headers[@]}" -d "$request_body" "$url" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.5
  done
  say "$name did not answer 200 within 120 s (last status $code); last lines of its log:"
  tail -n 20 "$work/$name.log" >&2
  return 1
}

# --- the mock -----------------------------------------------------------------------------
start mock 1 "$bin/switchyard-mock-provider" --port 0 --record-limit 0
mock_pid=$started
for _ in {1..100}; do
  grep -q '^listening on ' "$work/mock.log" && break
  sleep 0.1
done
mock_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/mock.log")
[[ -n $mock_port ]] || die "the mock provider did not start: $(cat "$work/mock.log")"
mock_url=http://127.0.0.1:$mock_port

# --- the legs: each sets url, headers and gateway_pid (empty for direct) -----------------------
start_direct() {
  url=$mock_url/v1/chat/completions
  gateway_pid=
}

start_nginx() {
  local port user=
  port=$(free_port)
  ((EUID == 0)) && user='user root root;'
  mkdir -p "$work/nginx-tmp"
  sed -e "s|@USER@|$user|" -e "s|@WORKDIR@|$work|g" -e "s|@PORT@|$port|" \
    -e "s|@MOCK_PORT@|$mock_port|" "$here/nginx.conf" > "$work/nginx.conf"
  start nginx 0 "$nginx" -c "$work/nginx.conf" -e "$work/nginx-error.log" -g 'daemon off;'
  gateway_pid=$started
  url=http://127.0.0.1:$port/v1/chat/completions
  wait_ready nginx "$gateway_pid" "$url"
}

start_switchyard() {
  local port admin
  say "building switchyard-proxy (release)"
  if ! (cd "$repo" && cargo build --quiet --release -p switchyard-proxy) > "$work/switchyard-build.log" 2>&1; then
    say "switchyard-proxy does not build; last lines:"
    tail -n 20 "$work/switchyard-build.log" >&2
    return 1
  fi
  port=$(free_port)
  admin=$(free_port)
  sed "s|@MOCK_PORT@|$mock_port|" "$here/switchyard.yaml" > "$work/switchyard.yaml"
  # One worker thread, as nginx runs one worker process: the gateway gets one core either way.
  # The access log stays on (JSON lines to stdout, kept in the leg's log).
  start switchyard 0 "$bin/switchyard-proxy" --config "$work/switchyard.yaml" \
    --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --threads 1
  gateway_pid=$started
  url=http://127.0.0.1:$port/v1/chat/completions
  wait_ready switchyard "$gateway_pid" "$url"
}

start_litellm() {
  local port
  port=$(free_port)
  # No network beyond loopback: the bundled model cost map, no telemetry.
  start litellm 0 env MOCK_API_BASE="$mock_url/v1" LITELLM_LOCAL_MODEL_COST_MAP=True \
    LITELLM_LOG=ERROR "$litellm" --config "$here/litellm.yaml" --host 127.0.0.1 --port "$port" \
    --num_workers 1
  gateway_pid=$started
  url=http://127.0.0.1:$port/v1/chat/completions
  wait_ready litellm "$gateway_pid" "$url"
}

start_portkey() {
  local port
  port=$(free_port)
  start portkey 0 node "$portkey/build/start-server.js" --port="$port" --headless
  gateway_pid=$started
  url=http://127.0.0.1:$port/v1/chat/completions
  headers=("x-portkey-provider: openai" "x-portkey-custom-host: $mock_url/v1")
  wait_ready portkey "$gateway_pid" "$url"
}

# --- the phases ---------------------------------------------------------------------------
# wrk_run CPU CONNECTIONS SECONDS: prints wrk's summary line (requests, p50_us, p99_us, errors).
wrk_run() {
  local cpu=$1 connections=$2 seconds=$3
  BENCH_HEADERS=$(printf '%s\n' "${headers[@]}") "${prio[@]}" taskset -c "$cpu" wrk -t1 -c"$connections" \
    -d"${seconds}s" --timeout 10s -s "$here/chat.lua" "$url" | sed -n 's/^wrk: //p'
}

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<< "$2"; }

# cpu_per_request TICKS_BEFORE TICKS_AFTER REQUESTS: microseconds.
cpu_per_request() {
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "n/a" }'
}

declare -A result
run_phases() {
  local leg=$1 line before after oha_headers=() stream_headers=() h

  # c=1: everything on core 0.
  pin 0 "$mock_pid" ${gateway_pid:+"$gateway_pid"}
  wrk_run 0 1 "$warmup" > /dev/null
  [[ -n $gateway_pid ]] && before=$(cpu_ticks "$gateway_pid")
  line=$(wrk_run 0 1 "$duration")
  [[ -n $gateway_pid ]] && after=$(cpu_ticks "$gateway_pid")
  say "$leg c=1: $line"
  [[ -n $(field p99_us "$line") ]] || return 1
  result[$leg.p50]=$(field p50_us "$line")
  result[$leg.p99]=$(field p99_us "$line")
  result[$leg.errors]=$(field errors "$line")
  [[ -n $gateway_pid ]] && result[$leg.cpu1]=$(cpu_per_request "$before" "$after" "$(field requests "$line")")

  # c=32: gateway on core 0, mock and client on core 1.
  pin 1 "$mock_pid"
  wrk_run 1 32 "$warmup" > /dev/null
  [[ -n $gateway_pid ]] && before=$(cpu_ticks "$gateway_pid")
  line=$(wrk_run 1 32 "$duration")
  [[ -n $gateway_pid ]] && after=$(cpu_ticks "$gateway_pid")
  say "$leg c=32: $line"
  [[ -n $(field duration_us "$line") ]] || return 1
  result[$leg.rps]=$(awk -v n="$(field requests "$line")" -v us="$(field duration_us "$line")" \
    'BEGIN { printf "%.0f", n * 1e6 / us }')
  result[$leg.errors]=$((${result[$leg.errors]} + $(field errors "$line")))
  [[ -n $gateway_pid ]] && result[$leg.cpu32]=$(cpu_per_request "$before" "$after" "$(field requests "$line")")

  # Open loop at a fixed rate, latency corrected for coordinated omission.
  for h in "${headers[@]}"; do oha_headers+=(-H "$h"); stream_headers+=(--header "$h"); done
  line=$("${prio[@]}" taskset -c 1 "$oha" --no-tui --output-format json -z "${duration}s" -c 32 -q "$rate" \
    --latency-correction -m POST -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer mock-key' "${oha_headers[@]}" -d "$request_body" "$url" |
    jq -r '"p50=\(.latencyPercentiles.p50 * 1e6) p99=\(.latencyPercentiles.p99 * 1e6) success=\(.summary.successRate)"')
  say "$leg open loop at $rate/s: $line"
  [[ -n $(field p99 "$line") ]] || return 1
  result[$leg.open50]=$(printf '%.0f' "$(field p50 "$line")")
  result[$leg.open99]=$(printf '%.0f' "$(field p99 "$line")")
  result[$leg.open_ok]=$(field success "$line")

  # Streams of $chunks content chunks, one at a time.
  line=$("${prio[@]}" taskset -c 1 "$bin/switchyard-bench-stream" --url "$url" --requests "$stream_requests" \
    --warmup 10 --chunks "$chunks" --header 'authorization: Bearer mock-key' \
    "${stream_headers[@]}")
  say "$leg stream: $line"
  [[ -n $(field gap_p99_us "$line") ]] || return 1
  result[$leg.ttft50]=$(field ttft_p50_us "$line")
  result[$leg.ttft99]=$(field ttft_p99_us "$line")
  result[$leg.gap50]=$(field gap_p50_us "$line")
  result[$leg.gap99]=$(field gap_p99_us "$line")
  result[$leg.chunks]="$(field chunks_min "$line")-$(field chunks_max "$line")"

  [[ -n $gateway_pid ]] && result[$leg.rss]=$(awk -v k="$(rss_kib "$gateway_pid")" 'BEGIN { printf "%.0f", k / 1024 }')
  pin 1 "$mock_pid"
  return 0
}

declare -A failed
failures=0
for leg in "${legs[@]}"; do
  case $leg in
    direct | nginx | switchyard | litellm | portkey) ;;
    *) die "unknown leg $leg (direct, nginx, switchyard, litellm, portkey)" ;;
  esac
  headers=()
  gateway_pid=
  say "--- $leg"
  pin 1 "$mock_pid"
  if ! "start_$leg"; then
    failed[$leg]="did not start (see above)"
    failures=$((failures + 1))
    [[ -n $gateway_pid ]] && stop "$gateway_pid"
    continue
  fi
  if ! run_phases "$leg"; then
    failed[$leg]="a phase failed (see above)"
    failures=$((failures + 1))
  fi
  [[ -n $gateway_pid ]] && stop "$gateway_pid"
done

# --- the table ----------------------------------------------------------------------------
# added KEY LEG: LEG's value minus direct's, or "–" without a direct run.
added() {
  local a=${result[$2.$1]:-} b=${result[direct.$1]:-}
  if [[ -z $a || -z $b ]]; then echo "–"; else awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", a - b }'; fi
}
num() { if [[ -n ${1:-} ]]; then printf '%.0f' "$1"; else echo "–"; fi; }

versions() {
  local v
  echo "- nginx $("$nginx" -v 2>&1 | sed 's|.*/||') (Debian), LiteLLM $LITELLM_VERSION (PyPI),"
  v=$(node --version)
  echo "  Portkey gateway $PORTKEY_VERSION (npm, node $v), Switchyard $(git -C "$repo" rev-parse --short HEAD),"
  echo "  wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}'), oha $OHA_VERSION"
}

echo
echo "## Gateways side by side, against the mock with zero delay"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), Linux $(uname -r), load average $load at the start;"
echo "$duration s per phase, open loop at $rate req/s, $stream_requests streams of $chunks chunks."
versions
echo
echo "| leg | c=1 p50 / p99 µs | added p50 / p99 µs | max req/s (c=32) | open loop p50 / p99 µs | CPU µs/req c=1 / c=32 | added TTFT p50 / p99 µs | added chunk gap p50 / p99 µs | RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
for leg in "${legs[@]}"; do
  if [[ -n ${failed[$leg]:-} ]]; then
    echo "| $leg | failed: ${failed[$leg]} | | | | | | | |"
    continue
  fi
  if [[ $leg == direct ]]; then
    added_latency="(base)"
    added_ttft="(base: $(num "${result[direct.ttft50]}") / $(num "${result[direct.ttft99]}"))"
    added_gap="(base: $(num "${result[direct.gap50]}") / $(num "${result[direct.gap99]}"))"
    cpu="–"
    rss="–"
  else
    added_latency="$(added p50 "$leg") / $(added p99 "$leg")"
    added_ttft="$(added ttft50 "$leg") / $(added ttft99 "$leg")"
    added_gap="$(added gap50 "$leg") / $(added gap99 "$leg")"
    cpu="${result[$leg.cpu1]} / ${result[$leg.cpu32]}"
    rss=${result[$leg.rss]}
  fi
  echo "| $leg | $(num "${result[$leg.p50]}") / $(num "${result[$leg.p99]}") | $added_latency | ${result[$leg.rps]} | $(num "${result[$leg.open50]}") / $(num "${result[$leg.open99]}") | $cpu | $added_ttft | $added_gap | $rss |"
done
echo
echo "Pinning: at c=1 gateway, mock and client share core 0; in the other phases the gateway"
echo "has core 0 to itself and mock + client share core 1 (so direct's req/s is the ceiling of"
echo "mock + client on one core). CPU time and RSS are the gateway's whole process tree."
echo "Logging: nginx without an access log; Switchyard, LiteLLM (uvicorn) and Portkey as they"
echo "come (Switchyard and uvicorn write one access-log line per request)."

notes=()
for leg in "${legs[@]}"; do
  [[ -n ${failed[$leg]:-} ]] && continue
  [[ ${result[$leg.errors]:-0} == 0 ]] || notes+=("$leg: $((result[$leg.errors])) wrk errors or non-2xx answers")
  [[ ${result[$leg.open_ok]:-1} == 1 ]] || notes+=("$leg: open-loop success rate ${result[$leg.open_ok]}")
  [[ ${result[$leg.chunks]:-} == "$chunks-$chunks" ]] || notes+=("$leg: streams had ${result[$leg.chunks]:-?} content chunks, not $chunks")
done
if ((${#notes[@]})); then
  echo
  printf -- '- %s\n' "${notes[@]}"
fi

# Switchyard against its targets.
if [[ " ${legs[*]} " == *" switchyard "* ]]; then
  echo
  echo "### Switchyard's targets"
  echo
  if [[ -n ${failed[switchyard]:-} ]]; then
    echo "- not measured: switchyard ${failed[switchyard]}"
  else
    verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "le") ? v <= t : v >= t; print ok ? "met" : "MISSED" }'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
    p99=$(added p99 switchyard)
    [[ $p99 != "–" ]] && echo "- added p99 at c=1: $p99 µs (target ≤ 100): $(verdict "$p99" 100 le)"
    echo "- CPU per request: ${result[switchyard.cpu1]} µs at c=1 ($(verdict "${result[switchyard.cpu1]}" 25 le)), ${result[switchyard.cpu32]} µs at c=32 ($(verdict "${result[switchyard.cpu32]}" 25 le)) (target ≤ 25)"
    if [[ -n ${result[nginx.rps]:-} ]]; then
      r=$(ratio "${result[switchyard.rps]}" "${result[nginx.rps]}")
      echo "- throughput vs nginx: ${r}× (target ≥ 0.8×): $(verdict "$r" 0.8 ge)"
    fi
    if [[ -n ${result[litellm.rps]:-} ]]; then
      r=$(ratio "${result[switchyard.rps]}" "${result[litellm.rps]}")
      echo "- throughput vs LiteLLM: ${r}× (target ≥ 50×): $(verdict "$r" 50 ge)"
    fi
  fi
fi

((failures == 0)) || exit 1
