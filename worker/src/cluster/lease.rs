//! The worker's lease on its assigned work: tasks write (records, offsets, statuses) only
//! while it is valid. The membership loop extends it after each successful heartbeat or
//! sync, to the request's *send* time plus the session timeout less a safety margin — so the
//! lease runs out before the coordinator can expire the session and hand the work to
//! another worker. Time is monotonic and keeps running while a process is frozen (SIGSTOP,
//! a debugger, a starved VM), so a worker resumed after its session expired finds its lease
//! expired too, and an answer to a request sent before the freeze extends nothing useful:
//! it writes nothing until the group confirms its membership. A ticker thread reports such
//! freezes in the log.
//!
//! A standalone worker's lease never expires.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Ticks of the freeze reporter.
const TICK: Duration = Duration::from_millis(50);
/// A gap between ticks this long is reported: the process was frozen or starved.
const FREEZE: Duration = Duration::from_millis(1000);

/// See the module documentation.
#[derive(Debug)]
pub struct Lease {
    base: Instant,
    /// Milliseconds since `base` until which writing is allowed.
    valid_until: AtomicI64,
    /// The last tick of the freeze reporter (ms since `base`).
    last_tick: AtomicI64,
    /// Membership lost: nothing may be written until the next assignment.
    fenced: AtomicBool,
    /// How many times the worker was fenced: a write that waited across a fence is void
    /// even if a new assignment made the lease valid again.
    fences: AtomicU64,
}

/// When a request was sent, to extend the lease once it succeeds.
#[derive(Debug, Clone, Copy)]
pub struct SentAt {
    ms: i64,
}

impl Lease {
    /// A lease that never expires (standalone mode).
    pub fn unlimited() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            valid_until: AtomicI64::new(i64::MAX),
            last_tick: AtomicI64::new(0),
            fenced: AtomicBool::new(false),
            fences: AtomicU64::new(0),
        })
    }

    /// An expired lease, with the freeze reporter running for as long as the lease lives.
    pub fn cluster() -> Arc<Self> {
        let lease = Arc::new(Self {
            base: Instant::now(),
            valid_until: AtomicI64::new(i64::MIN),
            last_tick: AtomicI64::new(0),
            fenced: AtomicBool::new(false),
            fences: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&lease);
        let spawned = std::thread::Builder::new()
            .name("culvert-lease".into())
            .spawn(move || tick(&weak));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the freeze reporter; freezes go unreported");
        }
        lease
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Call just before sending a request whose success extends the lease.
    pub fn sent(&self) -> SentAt {
        SentAt { ms: self.now_ms() }
    }

    /// The request sent at `at` succeeded: writing is allowed until `at + length`.
    pub fn extend(&self, at: SentAt, length: Duration) {
        let length = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
        let until = at.ms.saturating_add(length);
        self.valid_until.fetch_max(until, Ordering::SeqCst);
        self.fenced.store(false, Ordering::SeqCst);
    }

    /// Membership lost: void the lease until the next successful sync.
    pub fn fence(&self) {
        self.fences.fetch_add(1, Ordering::SeqCst);
        self.fenced.store(true, Ordering::SeqCst);
        self.valid_until.store(i64::MIN, Ordering::SeqCst);
    }

    /// Whether the worker may write for its assigned work now.
    pub fn is_valid(&self) -> bool {
        if self.fenced.load(Ordering::SeqCst) {
            return false;
        }
        // Checked per produced record: an unlimited lease skips the clock.
        let until = self.valid_until.load(Ordering::SeqCst);
        until == i64::MAX || self.now_ms() < until
    }

    /// Whether membership was lost (as opposed to a lease waiting for its next extension).
    pub fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }

    /// How many times the worker was fenced so far.
    pub fn fences(&self) -> u64 {
        self.fences.load(Ordering::SeqCst)
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
        let last = lease.last_tick.swap(now, Ordering::SeqCst);
        if now.saturating_sub(last) >= freeze {
            tracing::warn!(
                gap_ms = now - last,
                lease_valid = lease.is_valid(),
                "this worker was frozen or starved; it writes only while the group confirms \
                 its membership"
            );
        }
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
        let fences = lease.fences();
        lease.fence();
        assert!(!lease.is_valid() && lease.is_fenced());
        assert_eq!(
            lease.fences(),
            fences + 1,
            "a write that waited across it can tell"
        );
        lease.extend(lease.sent(), Duration::from_secs(10));
        assert!(
            lease.is_valid() && !lease.is_fenced(),
            "a new sync lifts the fence"
        );
    }

    #[test]
    fn an_answer_to_a_request_sent_before_a_freeze_extends_nothing() {
        let lease = Lease::cluster();
        let before = lease.sent();
        // Frozen: the answer arrives long after the request went out.
        std::thread::sleep(Duration::from_millis(400));
        lease.extend(before, Duration::from_millis(300));
        assert!(!lease.is_valid(), "the lease counts from the send time");
        lease.extend(lease.sent(), Duration::from_millis(300));
        assert!(lease.is_valid());
    }
}
