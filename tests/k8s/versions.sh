# Pinned versions of the Kubernetes test binaries; sourced by install.sh and gen-wrapper.sh.
# The cache dir is named after K8S_VERSION, and tests/cluster/src/binaries.rs looks for that
# same dir: bump both together (and regenerate bins/ with gen-wrapper.sh).
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
HELM_VERSION=v4.3.1
KWOK_VERSION=v0.8.0
# Commands built from k8s.io/kubernetes through the bins/ wrapper module.
K8S_COMMANDS=(kube-apiserver kubectl)
# Optional (install.sh --with-workloads): with kwok they turn Deployments into fake Running
# pods, so `helm install --wait` can be tested. bins/go.sum covers them too.
K8S_WORKLOAD_COMMANDS=(kube-controller-manager kube-scheduler)
# Build tags used by Kubernetes' own release builds (no cgo, no test code, no gRPC tracing).
K8S_BUILD_TAGS=selinux,notest,grpcnotrace
