//! Metrics of the config channel to the operator (operator mode only; they stay at zero in
//! standalone mode).

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// How a push was received, as the `result` label of `switchyard_operator_pushes_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushResult {
    /// Verified and now served.
    Accepted,
    /// The snapshot already served; acked without a swap.
    Unchanged,
    /// Not decodable or not verified; nacked, the old snapshot stays.
    Refused,
}

impl PushResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Unchanged => "unchanged",
            Self::Refused => "refused",
        }
    }
}

/// The channel's series.
#[derive(Clone, Debug)]
pub struct ChannelMetrics {
    /// 1 while a stream to the operator is open, else 0.
    pub connected: IntGauge,
    /// Streams the operator accepted (answered 200).
    pub connects: IntCounter,
    /// Accepted streams that ended.
    pub disconnects: IntCounter,
    /// Attempts that did not get a stream, by reason (`ChannelError::kind`).
    pub failures: IntCounterVec,
    pushes: IntCounterVec,
}

impl ChannelMetrics {
    /// Registers the channel's series in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let connected = IntGauge::new(
            "switchyard_operator_connected",
            "1 while the config stream to the operator is open, else 0.",
        )?;
        let connects = IntCounter::new(
            "switchyard_operator_connects_total",
            "Config streams the operator accepted.",
        )?;
        let disconnects = IntCounter::new(
            "switchyard_operator_disconnects_total",
            "Accepted config streams that ended.",
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "switchyard_operator_connect_failures_total",
                "Attempts to open the config stream that failed, by reason.",
            ),
            &["reason"],
        )?;
        let pushes = IntCounterVec::new(
            Opts::new(
                "switchyard_operator_pushes_total",
                "Snapshots pushed by the operator, by result: accepted, unchanged, refused.",
            ),
            &["result"],
        )?;
        registry.register(Box::new(connected.clone()))?;
        registry.register(Box::new(connects.clone()))?;
        registry.register(Box::new(disconnects.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(pushes.clone()))?;
        for result in [
            PushResult::Accepted,
            PushResult::Unchanged,
            PushResult::Refused,
        ] {
            pushes.with_label_values(&[result.as_str()]);
        }
        Ok(Self {
            connected,
            connects,
            disconnects,
            failures,
            pushes,
        })
    }

    /// Counts a push.
    pub fn pushed(&self, result: PushResult) {
        self.pushes.with_label_values(&[result.as_str()]).inc();
    }
}
