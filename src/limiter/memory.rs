//! Buckets in this server's memory: each bucket's TAT in one of a few mutex-guarded maps, so a
//! decision is a hash, a short lock and a few additions.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

use super::BucketKey;
use crate::domain::rate_limit::{gcra, Budget, Decision};

/// Maps of buckets, each under its own lock, so that busy keys rarely wait for each other.
const SHARDS: usize = 16;

/// A shard is swept of refilled buckets when it grows past this many, or twice what the last
/// sweep kept.
const MIN_SWEEP: usize = 1024;

pub struct Buckets {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
}

struct Shard {
    /// Each bucket's theoretical arrival time, in microseconds since the epoch.
    tats: HashMap<BucketKey, i64>,
    sweep_at: usize,
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Buckets {
    pub fn decide(&self, key: BucketKey, budget: Budget, now: i64) -> Decision {
        let shard = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        let mut shard = self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (decision, next) = gcra(budget, now, shard.tats.get(&key).copied());
        if let Some(next) = next {
            shard.tats.insert(key, next);
            shard.sweep(now);
        }
        decision
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            tats: HashMap::new(),
            sweep_at: MIN_SWEEP,
        }
    }
}

impl Shard {
    /// Forgets buckets that have refilled: a missing bucket is a full one.
    fn sweep(&mut self, now: i64) {
        if self.tats.len() >= self.sweep_at {
            self.tats.retain(|_, tat| *tat > now);
            self.sweep_at = (self.tats.len() * 2).max(MIN_SWEEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rate_limit::{RatePolicy, Window, MICROS};
    use crate::limiter::Subject;

    const NOW: i64 = 1_700_000_000 * MICROS;

    fn key(address: u32) -> BucketKey {
        BucketKey {
            policy: RatePolicy::ApiWrite,
            subject: Subject::Address(std::net::Ipv4Addr::from(address).into()),
        }
    }

    #[test]
    fn buckets_are_kept_apart_and_refill() {
        let buckets = Buckets::default();
        let budget = Budget {
            limit: 2,
            window: Window::Minute,
        };
        assert!(buckets.decide(key(1), budget, NOW).allowed);
        assert!(buckets.decide(key(1), budget, NOW).allowed);
        assert!(!buckets.decide(key(1), budget, NOW).allowed);
        assert!(buckets.decide(key(2), budget, NOW).allowed);
        assert!(buckets.decide(key(1), budget, NOW + 120 * MICROS).allowed);
    }

    #[test]
    fn a_growing_shard_forgets_its_refilled_buckets() {
        let mut shard = Shard::default();
        for n in 0..MIN_SWEEP as u32 {
            // Half of them are still spending at `NOW`.
            shard
                .tats
                .insert(key(n), NOW + i64::from(n % 2) * MICROS - 1);
        }
        shard.sweep(NOW);
        assert_eq!(shard.tats.len(), MIN_SWEEP / 2);
        assert_eq!(shard.sweep_at, MIN_SWEEP);
    }
}
