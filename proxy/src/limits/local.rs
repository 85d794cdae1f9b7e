//! Counters of `local` limits, in one proxy's memory: a table per limit, sharded so that
//! concurrent requests of different keys rarely meet on a lock, and each lock is held for a
//! hash lookup and an addition (never across an await).
//!
//! Memory: a key's slot is created on its first request; when a shard grows past
//! `SWEEP_AT`, the slots of past windows are dropped, so the table holds about the keys
//! active in the current window.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{Mutex, PoisonError},
};

/// Shards per table (a power of two).
const SHARDS: usize = 32;
/// Slots a shard may hold before past windows are swept out.
const SWEEP_AT: usize = 1024;

/// One key's usage in one window.
#[derive(Clone, Copy, Debug)]
struct Slot {
    window: u64,
    used: u64,
}

/// The counters of one local limit, by key hash.
#[derive(Debug)]
pub struct LocalTable {
    shards: Box<[Mutex<HashMap<u64, Slot>>]>,
    /// Keyed per table, so nobody can choose header values that collide.
    hasher: RandomState,
}

impl Default for LocalTable {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl LocalTable {
    /// The slot key of a caller's key (64 bits of a keyed hash: collisions are negligible,
    /// and no key text is stored).
    pub fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Slot>> {
        // The key is a hash already; its low bits pick the shard. A poisoned shard holds
        // plain numbers, still consistent.
        let idx = (key as usize) & (SHARDS - 1);
        self.shards[idx]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves `amount` for `key` in `window` if it fits under `max`: `Ok(used after)`, or
    /// `Err(used now)` without reserving.
    pub fn admit(&self, key: u64, window: u64, amount: u64, max: u64) -> Result<u64, u64> {
        let mut shard = self.shard(key);
        if shard.len() >= SWEEP_AT && !shard.contains_key(&key) {
            shard.retain(|_, slot| slot.window == window);
        }
        let slot = shard.entry(key).or_insert(Slot { window, used: 0 });
        if slot.window != window {
            *slot = Slot { window, used: 0 };
        }
        let after = slot.used.saturating_add(amount);
        if after > max {
            return Err(slot.used);
        }
        slot.used = after;
        Ok(after)
    }

    /// Corrects a reservation of `key` made in `window` by `delta` (negative: returned). A
    /// window that has ended is left alone: its count no longer matters.
    pub fn adjust(&self, key: u64, window: u64, delta: i64) {
        let mut shard = self.shard(key);
        if let Some(slot) = shard.get_mut(&key)
            && slot.window == window
        {
            slot.used = slot.used.saturating_add_signed(delta);
        }
    }

    /// Keys with a slot (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_and_refuses_what_would_pass_it() {
        let table = LocalTable::default();
        assert_eq!(table.admit(1, 7, 6, 10), Ok(6));
        assert_eq!(table.admit(1, 7, 5, 10), Err(6));
        assert_eq!(table.admit(1, 7, 4, 10), Ok(10));
        assert_eq!(
            table.admit(2, 7, 10, 10),
            Ok(10),
            "another key has its own count"
        );
    }

    #[test]
    fn a_new_window_starts_from_zero_and_late_corrections_are_ignored() {
        let table = LocalTable::default();
        assert_eq!(table.admit(1, 7, 10, 10), Ok(10));
        assert_eq!(table.admit(1, 8, 10, 10), Ok(10));
        table.adjust(1, 7, -10);
        assert_eq!(table.admit(1, 8, 1, 10), Err(10));
    }

    #[test]
    fn settling_returns_the_unused_part_and_counts_an_overrun() {
        let table = LocalTable::default();
        assert_eq!(table.admit(1, 7, 8, 10), Ok(8));
        table.adjust(1, 7, -5);
        assert_eq!(table.admit(1, 7, 7, 10), Ok(10));
        table.adjust(1, 7, 4);
        assert_eq!(table.admit(1, 7, 1, 10), Err(14));
        table.adjust(1, 7, -100);
        assert_eq!(table.admit(1, 7, 10, 10), Ok(10), "never below zero");
    }

    #[test]
    fn idle_keys_of_past_windows_are_swept() {
        let table = LocalTable::default();
        for key in 0..(SHARDS * SWEEP_AT) as u64 {
            assert!(table.admit(key, 1, 1, 1).is_ok());
        }
        for key in 0..(SHARDS * SWEEP_AT) as u64 {
            assert!(table.admit(key + (1 << 40), 2, 1, 1).is_ok());
        }
        assert!(table.len() <= SHARDS * (SWEEP_AT + 1), "{}", table.len());
    }
}
