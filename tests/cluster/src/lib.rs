//! Test support: a real etcd + kube-apiserver, Redis and per-test namespaces.
