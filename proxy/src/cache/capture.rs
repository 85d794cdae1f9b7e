//! Capturing the answer a client is sent on a cache miss. The entry goes into the memory tier
//! as the last byte is handed to the client — before it is written, so a client that repeats
//! the request the moment it has the answer finds it — and only if the answer is a complete
//! success within the entry limit. The Redis copy is written after (`cache::store`).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{
    Pending,
    memory::{Entry, Memory},
};
use crate::metrics::LookupResult;

/// The cache's part of the request context: what the lookup found, and the answer being
/// captured (only on a miss of a cached route).
#[derive(Debug, Default)]
pub struct CacheCtx {
    /// The `x-switchyard-cache` value; `None` where no cache applies.
    pub result: Option<LookupResult>,
    pub(super) capture: Option<Capture>,
}

/// A miss being captured.
#[derive(Debug)]
pub(super) struct Capture {
    pub(super) pending: Pending,
    pub(super) limit: usize,
    pub(super) memory: Memory,
    pub(super) body: Captured,
}

/// How far the capture got.
#[derive(Debug)]
pub(super) enum Captured {
    /// Nothing yet, or a stream in progress.
    Partial(BytesMut),
    /// Complete and stored in memory.
    Stored(Arc<Entry>),
    /// Over the entry limit: not stored.
    TooLarge,
    /// An error status or a failed stream: not stored.
    Failed,
}

impl CacheCtx {
    /// A whole body with `status` is about to be sent.
    pub async fn whole(&mut self, status: u16, body: &Bytes) {
        let Some(capture) = &mut self.capture else {
            return;
        };
        if !matches!(capture.body, Captured::Partial(_)) {
            return;
        }
        capture.body = if !(200..300).contains(&status) {
            Captured::Failed
        } else if body.len() > capture.limit {
            Captured::TooLarge
        } else {
            capture.keep(body.clone()).await
        };
    }

    /// A stream chunk is about to be sent; `end` when it is the last, `failed` when the
    /// stream broke (the chunk then carries its error event).
    pub async fn chunk(&mut self, chunk: &[u8], end: bool, failed: bool) {
        let Some(capture) = &mut self.capture else {
            return;
        };
        let Captured::Partial(buffer) = &mut capture.body else {
            return;
        };
        if failed {
            capture.body = Captured::Failed;
        } else if buffer.len() + chunk.len() > capture.limit {
            capture.body = Captured::TooLarge;
        } else {
            buffer.extend_from_slice(chunk);
            if end {
                let body = std::mem::take(buffer).freeze();
                capture.body = capture.keep(body).await;
            }
        }
    }
}

impl Capture {
    async fn keep(&self, body: Bytes) -> Captured {
        let entry = Arc::new(Entry {
            body,
            ttl: self.pending.ttl,
        });
        self.memory
            .insert(self.pending.key, Arc::clone(&entry))
            .await;
        Captured::Stored(entry)
    }
}
