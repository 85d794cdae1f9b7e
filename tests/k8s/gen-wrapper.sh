#!/usr/bin/env bash
# Regenerates the wrapper modules that install.sh builds from, after a version bump in
# versions.sh:
# - bins/go.mod + go.sum: requires k8s.io/kubernetes at K8S_VERSION and replaces every
#   k8s.io/* staging module that k8s.io/kubernetes requires at v0.0.0 with its matching
#   v0.X.Y tag. The list comes from k8s.io/kubernetes's own go.mod, never by hand.
# - etcd/go.mod + go.sum: `go get -tool go.etcd.io/etcd/server/v3@ETCD_VERSION`.
#
# Usage: tests/k8s/gen-wrapper.sh [vX.Y.Z]   (default: K8S_VERSION from versions.sh)
# Commit the resulting go.mod and go.sum files; install.sh builds with -mod=readonly.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"
version=${1:-$K8S_VERSION}
staging=v0.${version#v1.}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

gomod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
if [[ ! -f $gomod ]]; then
  echo "gen-wrapper: could not download k8s.io/kubernetes@$version" >&2
  exit 1
fi
go_line=$(awk '$1 == "go" { print $2; exit }' "$gomod")
mapfile -t staged < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$gomod" | sort -u)
if (( ${#staged[@]} == 0 )); then
  echo "gen-wrapper: no v0.0.0 k8s.io requirements found in $gomod" >&2
  exit 1
fi

cd "$here/bins"
{
  echo "// Wrapper module: builds the Kubernetes $version commands of tests/k8s/versions.sh from the"
  echo "// Go module proxy."
  echo "// The replace list maps k8s.io/kubernetes's staging modules (v0.0.0) to their tags;"
  echo "// tests/k8s/gen-wrapper.sh regenerates it from k8s.io/kubernetes's own go.mod."
  echo "module switchyard.dev/tests/k8s/bins"
  echo
  echo "go $go_line"
  echo
  echo "replace ("
  for module in "${staged[@]}"; do
    printf '\t%s => %s %s\n' "$module" "$module" "$staging"
  done
  echo ")"
  echo
  echo "require k8s.io/kubernetes $version // indirect"
} > go.mod
rm -f go.sum

# Resolving the packages (without compiling them) records every needed module in go.sum.
packages=()
for cmd in "${K8S_COMMANDS[@]}" "${K8S_WORKLOAD_COMMANDS[@]}"; do packages+=("k8s.io/kubernetes/cmd/$cmd"); done
go list -tags "$K8S_BUILD_TAGS" -deps "${packages[@]}" > /dev/null
echo "gen-wrapper: wrote $here/bins/go.mod (${#staged[@]} replacements) and go.sum"

cd "$here/etcd"
{
  echo "// Wrapper module: builds etcd from the Go module proxy (go.etcd.io/etcd/server/v3 is a tool"
  echo "// dependency; its own go.mod carries replace directives, so \`go install pkg@version\` fails)."
  echo "// tests/k8s/gen-wrapper.sh regenerates it."
  echo "module switchyard.dev/tests/k8s/etcd"
  echo
  echo "go $go_line"
} > go.mod
rm -f go.sum
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
echo "gen-wrapper: wrote $here/etcd/go.mod and go.sum (etcd $ETCD_VERSION)"
