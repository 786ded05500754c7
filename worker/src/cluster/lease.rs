//! The worker's lease on its assigned work: tasks write (records, offsets, statuses) only
//! while it is valid. The membership loop extends it after each successful heartbeat or
//! sync, to the request's send time plus the session timeout less a safety margin — so the
//! lease runs out before the coordinator can expire the session and hand the work to
//! another worker. A process that was frozen (SIGSTOP, a VM pause, a long GC-like stall)
//! must not trust a lease it obtained before the freeze: a ticker thread notices any gap in
//! its ticks and voids the lease until a request sent after the gap succeeds.
//!
//! A standalone worker's lease never expires.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Ticks of the freeze detector.
const TICK: Duration = Duration::from_millis(50);
/// A gap between ticks this long means the process was frozen (or starved beyond reason).
const FREEZE: Duration = Duration::from_millis(1000);

/// See the module documentation.
#[derive(Debug)]
pub struct Lease {
    base: Instant,
    /// Milliseconds since `base` until which writing is allowed.
    valid_until: AtomicI64,
    /// The last tick of the freeze detector (ms since `base`); `i64::MAX` when none runs.
    last_tick: AtomicI64,
    /// Bumped at every detected freeze: an extension computed before it is void.
    epoch: AtomicU64,
    /// Membership lost: nothing may be written until the next assignment.
    fenced: AtomicBool,
}

/// When a request was sent, to extend the lease once it succeeds.
#[derive(Debug, Clone, Copy)]
pub struct SentAt {
    ms: i64,
    epoch: u64,
}

impl Lease {
    /// A lease that never expires (standalone mode).
    pub fn unlimited() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            valid_until: AtomicI64::new(i64::MAX),
            last_tick: AtomicI64::new(i64::MAX),
            epoch: AtomicU64::new(0),
            fenced: AtomicBool::new(false),
        })
    }

    /// An expired lease with a freeze detector running for as long as the lease lives.
    pub fn cluster() -> Arc<Self> {
        let lease = Arc::new(Self {
            base: Instant::now(),
            valid_until: AtomicI64::new(i64::MIN),
            last_tick: AtomicI64::new(0),
            epoch: AtomicU64::new(0),
            fenced: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&lease);
        let spawned = std::thread::Builder::new()
            .name("culvert-lease".into())
            .spawn(move || tick(&weak));
        if let Err(e) = spawned {
            // Without the detector every check fails: safe, and loudly reported.
            tracing::error!(error = %e, "cannot start the lease's freeze detector");
        }
        lease
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Call just before sending a request whose success extends the lease.
    pub fn sent(&self) -> SentAt {
        SentAt {
            ms: self.now_ms(),
            epoch: self.epoch.load(Ordering::SeqCst),
        }
    }

    /// The request sent at `at` succeeded: writing is allowed until `at + length`, unless a
    /// freeze happened since it was sent.
    pub fn extend(&self, at: SentAt, length: Duration) {
        if self.epoch.load(Ordering::SeqCst) != at.epoch {
            return;
        }
        let length = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
        let until = at.ms.saturating_add(length);
        self.valid_until.fetch_max(until, Ordering::SeqCst);
        self.fenced.store(false, Ordering::SeqCst);
    }

    /// Membership lost: void the lease until the next successful sync.
    pub fn fence(&self) {
        self.fenced.store(true, Ordering::SeqCst);
        self.valid_until.store(i64::MIN, Ordering::SeqCst);
    }

    /// Whether the worker may write for its assigned work now.
    pub fn is_valid(&self) -> bool {
        if self.fenced.load(Ordering::SeqCst) {
            return false;
        }
        let now = self.now_ms();
        let last_tick = self.last_tick.load(Ordering::SeqCst);
        let ticking = last_tick == i64::MAX
            || now.saturating_sub(last_tick) < i64::try_from(FREEZE.as_millis()).unwrap_or(1000);
        ticking && now < self.valid_until.load(Ordering::SeqCst)
    }

    /// Whether membership was lost (as opposed to a lease waiting for its next extension).
    pub fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }

    /// How long the lease has left (zero when expired).
    pub fn remaining(&self) -> Duration {
        let left = self
            .valid_until
            .load(Ordering::SeqCst)
            .saturating_sub(self.now_ms());
        Duration::from_millis(u64::try_from(left).unwrap_or(0))
    }
}

fn tick(lease: &Weak<Lease>) {
    let freeze = i64::try_from(FREEZE.as_millis()).unwrap_or(1000);
    loop {
        std::thread::sleep(TICK);
        let Some(lease) = lease.upgrade() else {
            return;
        };
        let now = lease.now_ms();
        let last = lease.last_tick.load(Ordering::SeqCst);
        if now.saturating_sub(last) >= freeze {
            lease.epoch.fetch_add(1, Ordering::SeqCst);
            lease.valid_until.store(i64::MIN, Ordering::SeqCst);
            tracing::warn!(
                gap_ms = now - last,
                "this worker was frozen; it writes nothing until the group confirms its membership"
            );
        }
        lease.last_tick.store(now, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlimited_lease_is_always_valid() {
        let lease = Lease::unlimited();
        assert!(lease.is_valid());
    }

    #[test]
    fn a_cluster_lease_is_valid_only_between_extension_and_expiry() {
        let lease = Lease::cluster();
        assert!(!lease.is_valid(), "not before the first sync");
        lease.extend(lease.sent(), Duration::from_millis(300));
        assert!(lease.is_valid());
        std::thread::sleep(Duration::from_millis(400));
        assert!(!lease.is_valid(), "expired");
        lease.extend(lease.sent(), Duration::from_secs(10));
        assert!(lease.is_valid());
        lease.fence();
        assert!(!lease.is_valid() && lease.is_fenced());
        lease.extend(lease.sent(), Duration::from_secs(10));
        assert!(
            lease.is_valid() && !lease.is_fenced(),
            "a new sync lifts the fence"
        );
    }

    #[test]
    fn a_freeze_voids_the_lease_and_extensions_sent_before_it() {
        let lease = Lease::cluster();
        let before = lease.sent();
        lease.extend(before, Duration::from_secs(60));
        assert!(lease.is_valid());
        // Simulate a freeze: the detector's last tick is long ago.
        lease
            .last_tick
            .store(lease.now_ms() - 5000, Ordering::SeqCst);
        assert!(!lease.is_valid(), "a stale tick voids the lease at once");
        std::thread::sleep(TICK * 4);
        lease.extend(before, Duration::from_secs(60));
        assert!(
            !lease.is_valid(),
            "a request sent before the freeze extends nothing"
        );
        lease.extend(lease.sent(), Duration::from_secs(60));
        assert!(lease.is_valid());
    }
}
