#!/usr/bin/env bash
# Installs or reuses what tests/bench/gateways.sh needs, idempotently, outside the repository:
#
#   nginx, wrk        Debian packages (apt-get, only when missing)
#   oha               cargo install --locked from crates.io into $cache/oha-<version>
#   LiteLLM proxy     a virtualenv from PyPI in $cache/litellm-<version>
#   Portkey gateway   npm install into $cache/portkey-<version>
#
# $cache is ${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}/bench. Pins are in versions.sh.
# Cold: 10-15 minutes on 2 cores (mostly building oha); warm: ~1 s.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"
cache=${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}/bench
mkdir -p "$cache"

say() { echo "bench/install.sh: $*" >&2; }

install_debian_packages() {
  local missing=()
  [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v wrk > /dev/null || missing+=(wrk)
  command -v taskset > /dev/null || missing+=(util-linux)
  command -v node > /dev/null || missing+=(nodejs)
  command -v npm > /dev/null || missing+=(npm)
  python3 -c 'import venv, ensurepip' 2> /dev/null || missing+=(python3-venv)
  ((${#missing[@]} == 0)) && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
  # Debian starts the packaged nginx as a service; the benchmark runs its own on a free port.
  if [[ " ${missing[*]} " == *" nginx "* ]] && command -v service > /dev/null; then
    "${sudo[@]}" service nginx stop > /dev/null 2>&1 || true
  fi
}

install_oha() {
  local root=$cache/oha-$OHA_VERSION
  if [[ -x $root/bin/oha ]] && "$root/bin/oha" --version 2> /dev/null | grep -qF "$OHA_VERSION"; then
    return
  fi
  say "building oha $OHA_VERSION (cold: ~10 minutes)"
  cargo install --quiet --locked --root "$root" "oha@$OHA_VERSION"
}

install_litellm() {
  local venv=$cache/litellm-$LITELLM_VERSION
  if [[ -x $venv/bin/litellm ]] &&
    [[ $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2> /dev/null) == "$LITELLM_VERSION" ]]; then
    return
  fi
  case $LITELLM_VERSION in
    1.82.7 | 1.82.8 | 1.107.0) say "litellm $LITELLM_VERSION was published compromised"; exit 1 ;;
  esac
  say "creating the LiteLLM $LITELLM_VERSION virtualenv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
}

install_portkey() {
  local dir=$cache/portkey-$PORTKEY_VERSION
  local package=$dir/node_modules/@portkey-ai/gateway/package.json
  local hono=$dir/node_modules/@hono/node-server/package.json
  if [[ -f $package && -f $hono ]] &&
    grep -qF "\"version\": \"$PORTKEY_VERSION\"" "$package" &&
    grep -qF "\"version\": \"$PORTKEY_HONO_NODE_SERVER_VERSION\"" "$hono"; then
    return
  fi
  say "installing @portkey-ai/gateway $PORTKEY_VERSION into $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  cat > "$dir/package.json" << JSON
{
  "private": true,
  "dependencies": {"@portkey-ai/gateway": "$PORTKEY_VERSION"},
  "overrides": {"@hono/node-server": "$PORTKEY_HONO_NODE_SERVER_VERSION"}
}
JSON
  # --ignore-scripts: the package's postinstall only applies patches for its own development.
  (cd "$dir" && npm install --silent --no-audit --no-fund --ignore-scripts --omit=dev > /dev/null)
}

install_debian_packages
install_oha
install_litellm
install_portkey
say "ready in $cache"
echo "$cache"
