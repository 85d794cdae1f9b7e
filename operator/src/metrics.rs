//! Prometheus metrics of the operator. Label values are bounded: error kinds and refusal
//! reasons are fixed words; proxy names are the connected pods, removed when they leave.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Duration buckets in seconds: 1 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every metric the operator exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Reconcile rounds (compile, publish, status), finished.
    pub reconciles: IntCounter,
    /// Reconcile errors by kind (`watch`, `compile`, `status`, `lease`, `event`, `issuer`).
    pub reconcile_errors: IntCounterVec,
    /// Duration of a reconcile round, from the first change seen to the last status written.
    pub reconcile_duration: Histogram,
    /// Duration of one compilation.
    pub compile_duration: Histogram,
    /// Version of the newest snapshot.
    pub snapshot_version: IntGauge,
    /// Size of the newest snapshot's JSON.
    pub snapshot_bytes: IntGauge,
    /// Proxies connected to the config channel.
    pub connected_proxies: IntGauge,
    /// Pushes acked by proxies.
    pub acks: IntCounter,
    /// Pushes refused by proxies.
    pub nacks: IntCounter,
    /// From a push being sent to its ack.
    pub push_latency: Histogram,
    /// The snapshot version each connected proxy has acked.
    pub proxy_version: IntGaugeVec,
    /// Channel connections refused, by reason (`token`, `not-leader`, `request`).
    pub channel_refusals: IntCounterVec,
    /// Status patches written.
    pub status_writes: IntCounter,
    /// 1 while this replica holds the leader Lease.
    pub leader: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers every metric in a new registry.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let histogram = |name: &str, help: &str| -> prometheus::Result<Histogram> {
            let metric =
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(BUCKETS.into()))?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let metric = IntCounter::new(name, help)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let counters = |name: &str, help: &str, label: &str| -> prometheus::Result<IntCounterVec> {
            let metric = IntCounterVec::new(Opts::new(name, help), &[label])?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let metric = IntGauge::new(name, help)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let proxy_version = IntGaugeVec::new(
            Opts::new(
                "switchyard_operator_proxy_snapshot_version",
                "Snapshot version each connected proxy has acked.",
            ),
            &["proxy"],
        )?;
        registry.register(Box::new(proxy_version.clone()))?;
        Ok(Self {
            reconciles: counter(
                "switchyard_operator_reconciles_total",
                "Reconcile rounds finished.",
            )?,
            reconcile_errors: counters(
                "switchyard_operator_reconcile_errors_total",
                "Reconcile errors by kind.",
                "kind",
            )?,
            reconcile_duration: histogram(
                "switchyard_operator_reconcile_duration_seconds",
                "From a change seen to its statuses written.",
            )?,
            compile_duration: histogram(
                "switchyard_operator_compile_duration_seconds",
                "Duration of one compilation.",
            )?,
            snapshot_version: gauge(
                "switchyard_operator_snapshot_version",
                "Version of the newest snapshot.",
            )?,
            snapshot_bytes: gauge(
                "switchyard_operator_snapshot_bytes",
                "Size of the newest snapshot's JSON.",
            )?,
            connected_proxies: gauge(
                "switchyard_operator_connected_proxies",
                "Proxies connected to the config channel.",
            )?,
            acks: counter("switchyard_operator_acks_total", "Pushes acked by proxies.")?,
            nacks: counter(
                "switchyard_operator_nacks_total",
                "Pushes refused by proxies.",
            )?,
            push_latency: histogram(
                "switchyard_operator_push_latency_seconds",
                "From a push being sent to its ack.",
            )?,
            proxy_version,
            channel_refusals: counters(
                "switchyard_operator_channel_refusals_total",
                "Config-channel connections refused, by reason.",
                "reason",
            )?,
            status_writes: counter(
                "switchyard_operator_status_writes_total",
                "Status patches written.",
            )?,
            leader: gauge(
                "switchyard_operator_leader",
                "1 while this replica holds the leader Lease.",
            )?,
            registry,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec only fails on a malformed metric, which registration prevents.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
