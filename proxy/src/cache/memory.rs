//! The in-process tier: a moka cache bounded by bytes (each entry weighs its body plus a fixed
//! overhead), each entry living for its policy's TTL (or, when it came from Redis, what was
//! left of it there).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use moka::{Expiry, future::Cache};

use super::key::Key;

/// What an entry costs besides its body: the key, the entry and moka's bookkeeping.
const ENTRY_OVERHEAD: usize = 160;

/// One cached answer: exactly the bytes the client got (a JSON body, or a whole SSE stream).
#[derive(Debug)]
pub struct Entry {
    /// The body.
    pub body: Bytes,
    /// How long the entry lives from when it was stored here.
    pub ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<Key, Arc<Entry>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &Key,
        entry: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The memory tier.
#[derive(Clone)]
pub struct Memory {
    entries: Cache<Key, Arc<Entry>>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("entries", &self.entries.entry_count())
            .field("bytes", &self.entries.weighted_size())
            .finish()
    }
}

impl Memory {
    /// A tier holding at most about `max_bytes`.
    pub fn new(max_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_key: &Key, entry: &Arc<Entry>| {
                u32::try_from(entry.body.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self { entries }
    }

    /// The live entry for `key`.
    pub async fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        self.entries.get(key).await
    }

    /// Stores an entry (replacing any).
    pub async fn insert(&self, key: Key, entry: Arc<Entry>) {
        self.entries.insert(key, entry).await;
    }
}
