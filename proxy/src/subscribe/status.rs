//! What the subscription is doing now, for `/config`: which operator the stream is open to,
//! the last ack sent, and why the last attempt failed.

use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use switchyard_crds::channel::Ack;

use super::OperatorUrl;

/// The channel's state as `/config` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelReport {
    /// The operator URLs, in the order they are tried.
    pub urls: Vec<String>,
    /// The URL of the open stream, or `disconnected`.
    pub connection: String,
    /// The last ack sent (with its `error` when it refused a push).
    pub last_ack: Option<Ack>,
    /// Why the last attempt to open or keep the stream failed.
    pub last_failure: Option<String>,
    /// Whether the snapshot cache was served because the operator could not be reached at
    /// start (it stays true until a push replaces it).
    pub serving_cache: bool,
}

/// The channel's state, shared between the subscriber and the admin listener.
#[derive(Debug)]
pub struct Status(Mutex<ChannelReport>);

const DISCONNECTED: &str = "disconnected";

impl Status {
    pub(super) fn new(urls: &[OperatorUrl]) -> Self {
        Self(Mutex::new(ChannelReport {
            urls: urls.iter().map(ToString::to_string).collect(),
            connection: DISCONNECTED.to_owned(),
            last_ack: None,
            last_failure: None,
            serving_cache: false,
        }))
    }

    /// A copy of the current state.
    pub fn report(&self) -> ChannelReport {
        self.update(|report| report.clone())
    }

    pub(super) fn connected(&self, url: Option<&OperatorUrl>) {
        let connection = url.map_or_else(|| DISCONNECTED.to_owned(), ToString::to_string);
        self.update(|report| report.connection = connection);
    }

    pub(super) fn acked(&self, ack: &Ack) {
        let accepted = ack.error.is_none();
        self.update(|report| {
            report.last_ack = Some(ack.clone());
            report.serving_cache &= !accepted;
        });
    }

    pub(super) fn failed(&self, reason: String) {
        self.update(|report| report.last_failure = Some(reason));
    }

    pub(super) fn serving_cache(&self) {
        self.update(|report| report.serving_cache = true);
    }

    fn update<T>(&self, change: impl FnOnce(&mut ChannelReport) -> T) -> T {
        change(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
