#!/usr/bin/env bash
# Installs or reuses everything the test suite needs, idempotently, and exports where it is.
# Sourced by tests/run.sh; run it directly to prepare a machine without running tests.
#
#   cmake, redis-server      Debian packages (apt-get, only when missing)
#   kube-apiserver, kubectl, built from the Go module proxy by tests/k8s/install.sh into
#   etcd, helm, kwok,        $SWITCHYARD_CACHE/k8s-<version>/ (cold ~40 min, warm ~1 s)
#   controller-manager,
#   scheduler
#   openai, anthropic,       a virtualenv in $SWITCHYARD_CACHE/venv-<hash of requirements>
#   pytest
#
# SWITCHYARD_CACHE defaults to ~/.cache/switchyard; nothing is written inside the repository.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SWITCHYARD_CACHE=${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}
mkdir -p "$SWITCHYARD_CACHE"

say() { echo "setup: $*" >&2; }

install_debian_packages() {
  local missing=()
  command -v cmake > /dev/null || missing+=(cmake)
  command -v redis-server > /dev/null || missing+=(redis-server)
  command -v python3 > /dev/null || missing+=(python3)
  python3 -c 'import venv, ensurepip' 2> /dev/null || missing+=(python3-venv)
  ((${#missing[@]} == 0)) && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
  # Debian starts the packaged Redis as a service; tests start their own on a free port.
  if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v service > /dev/null; then
    "${sudo[@]}" service redis-server stop > /dev/null 2>&1 || true
  fi
}

install_python_venv() {
  local requirements=$repo/tests/mock-provider/python/requirements.txt hash venv
  hash=$(sha256sum "$requirements" | cut -c1-12)
  venv=$SWITCHYARD_CACHE/venv-$hash
  if [[ ! -x $venv/bin/pytest ]]; then
    say "creating Python virtualenv $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  fi
  export SWITCHYARD_PYTHON=$venv/bin/python
}

install_debian_packages
# --with-workloads: Deployments get (fake) running pods, so `helm install --wait` is tested too.
SWITCHYARD_K8S_BIN_DIR=$("$repo/tests/k8s/install.sh" --with-workloads)
export SWITCHYARD_K8S_BIN_DIR
install_python_venv
SWITCHYARD_REDIS_SERVER=$(command -v redis-server)
export SWITCHYARD_REDIS_SERVER
say "ready: k8s binaries in $SWITCHYARD_K8S_BIN_DIR, python $SWITCHYARD_PYTHON, redis $SWITCHYARD_REDIS_SERVER"
