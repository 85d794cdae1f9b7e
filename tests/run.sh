#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs (tests/setup.sh), then checks
# formatting, lints, runs every Rust test (unit, golden, property, real kube-apiserver, real
# Redis, mock provider, proxy end to end) and the official-SDK checks of the mock provider
# and of the proxy, and prints one summary line.
#
#   tests/run.sh
#
# CARGO_TARGET_DIR is honoured (CI points it outside the clone so builds are reused).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=setup.sh
source tests/setup.sh

target=${CARGO_TARGET_DIR:-$repo/target}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test" >&2
# INSTA_UPDATE=no: a changed golden snapshot fails instead of being written.
SWITCHYARD_REQUIRE_WORKLOADS=1 INSTA_UPDATE=no cargo test --workspace --locked 2>&1 | tee "$log"
echo "== official SDKs against the mock provider and through the proxy (pytest)" >&2
export SWITCHYARD_MOCK_PROVIDER_BIN=$target/debug/switchyard-mock-provider
export SWITCHYARD_PROXY_BIN=$target/debug/switchyard-proxy
# Two runs: each folder has its own conftest.py, which one pytest session cannot import twice.
"$SWITCHYARD_PYTHON" -m pytest -q tests/mock-provider/python 2>&1 | tee -a "$log"
"$SWITCHYARD_PYTHON" -m pytest -q proxy/tests/sdk 2>&1 | tee -a "$log"

# One line for the whole run, summed over every cargo test binary and pytest.
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /[0-9]+ passed/ && !/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  END { printf "summary: %d passed, %d failed\n", p, f }
' "$log"
