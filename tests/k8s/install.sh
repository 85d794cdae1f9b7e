#!/usr/bin/env bash
# Builds the Kubernetes test binaries (kube-apiserver, kubectl, etcd, helm) from the Go module
# proxy into a versioned cache dir outside the repo, and prints that dir. Idempotent: a binary
# that exists and reports its pinned version is kept; a missing or wrong one is rebuilt.
#
#   tests/k8s/install.sh                   # build what is missing, print the cache dir
#   tests/k8s/install.sh --with-workloads  # also kube-controller-manager, kube-scheduler, kwok
#   SWITCHYARD_CACHE=/somewhere tests/k8s/install.sh
#
# --with-workloads (or SWITCHYARD_K8S_WORKLOADS=1) adds what turns Deployments into fake
# Running pods (kwok plays the kubelet), for `helm install --wait` tests; ~10 more minutes.
#
# Builds use the committed wrapper modules (bins/, etcd/) with -mod=readonly, so they never
# change go.mod/go.sum; tests/k8s/gen-wrapper.sh regenerates those after a version bump.
# Cold build on 2 cores: about 20 minutes; a warm run takes about a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

cache=${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}/k8s-$K8S_VERSION
workloads=${SWITCHYARD_K8S_WORKLOADS:-}
for arg in "$@"; do
  case $arg in
    --with-workloads) workloads=1 ;;
    *) echo "usage: $0 [--with-workloads]" >&2; exit 2 ;;
  esac
done
commands=("${K8S_COMMANDS[@]}")
if [[ -n $workloads ]]; then commands+=("${K8S_WORKLOAD_COMMANDS[@]}"); fi
mkdir -p "$cache"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

log() { echo "install.sh: $*" >&2; }

# has BINARY EXPECTED ARGS...: true when $cache/BINARY exists and `BINARY ARGS...` prints EXPECTED.
has() {
  local bin=$cache/$1 expected=$2
  shift 2
  local output
  # Capture first: with pipefail, `grep -q` closing the pipe early would fail the check.
  [[ -x $bin ]] && output=$("$bin" "$@" 2> /dev/null) && grep -qF -- "$expected" <<< "$output"
}

k8s_ldflags() {
  local major minor
  major=${K8S_VERSION#v}; major=${major%%.*}
  minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
  local flags="-s -w" pkg
  # Without these the binaries report v0.0.0 and Helm's kubeVersion checks fail.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}

build_kubernetes() {
  local missing=() cmd
  for cmd in "${commands[@]}"; do
    case $cmd in
      kubectl) has kubectl "Client Version: $K8S_VERSION" version --client || missing+=("$cmd") ;;
      *) has "$cmd" "Kubernetes $K8S_VERSION" --version || missing+=("$cmd") ;;
    esac
  done
  if (( ${#missing[@]} == 0 )); then
    log "kubernetes $K8S_VERSION: up to date (${commands[*]})"
    return
  fi
  log "building ${missing[*]} $K8S_VERSION (cold: ~20 min on 2 cores)"
  local packages=()
  for cmd in "${missing[@]}"; do packages+=("k8s.io/kubernetes/cmd/$cmd"); done
  (cd "$here/bins" && go build -trimpath -tags "$K8S_BUILD_TAGS" -ldflags "$(k8s_ldflags)" \
    -o "$cache/" "${packages[@]}")
}

build_etcd() {
  if has etcd "etcd Version: ${ETCD_VERSION#v}" --version; then
    log "etcd $ETCD_VERSION: up to date"
    return
  fi
  log "building etcd $ETCD_VERSION"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$cache/etcd" go.etcd.io/etcd/server/v3)
}

build_helm() {
  if has helm "$HELM_VERSION" version --short; then
    log "helm $HELM_VERSION: up to date"
    return
  fi
  log "building helm $HELM_VERSION"
  # helm's go.mod has no replace directives, so `go install pkg@version` works as is; run it
  # outside any module so GOFLAGS=-mod=readonly does not apply to it.
  (cd "$cache" && GOFLAGS= GOBIN="$cache" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
}

build_kwok() {
  if has kwok "${KWOK_VERSION#v}" --version && [[ -s $cache/kwok-stages.yaml ]]; then
    log "kwok $KWOK_VERSION: up to date"
    return
  fi
  log "building kwok $KWOK_VERSION"
  # Like helm: no replace directives, so `go install pkg@version` works as is.
  (cd "$cache" && GOFLAGS= GOBIN="$cache" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  # kwok has no built-in stages: take kwok's own "fast" node and pod stages plus the lease
  # heartbeat from the same module version, as kwokctl does.
  local dir
  dir=$(cd "$cache" && GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  local stage first=1
  for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    (( first )) || echo "---"
    first=0
    cat "$dir/kustomize/stage/$stage.yaml"
  done > "$cache/kwok-stages.yaml"
}

build_kubernetes
build_etcd
build_helm
bins=("${commands[@]}" etcd helm)
if [[ -n $workloads ]]; then
  build_kwok
  bins+=(kwok)
fi

for bin in "${bins[@]}"; do
  [[ -x $cache/$bin ]] || { log "missing $cache/$bin after the build"; exit 1; }
done
log "binaries ready in:"
echo "$cache"
