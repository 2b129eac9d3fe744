//! The work queue of SPEC §6, modelled on kube-runtime's scheduler and runner: one entry per key,
//! duplicates collapse (the earliest run wins), a key never runs twice at once (a key scheduled
//! while it runs runs again after it finishes), at most `concurrency` keys run together, and a
//! failed key is retried with exponential backoff and jitter (1 s doubling to 5 min) unless
//! `retry_now` says its manifest changed. It owns *when* to reconcile, never *how*.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// First retry delay after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The delay before retry number `failures` (1-based), before jitter.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    BACKOFF_BASE.saturating_mul(1u32 << exp).min(BACKOFF_MAX)
}

/// `backoff(failures)` with ±10 % jitter, never above `BACKOFF_MAX`.
fn jittered_backoff(failures: u32) -> Duration {
    let factor = 0.9 + fastrand::f64() * 0.2;
    backoff(failures).mul_f64(factor).min(BACKOFF_MAX)
}

#[derive(Debug)]
struct Entry {
    /// When the key should run next; `None` when it is not scheduled.
    due: Option<Instant>,
    running: bool,
    /// Consecutive failures (0 after a success or `retry_now`).
    failures: u32,
}

#[derive(Debug)]
struct State<K> {
    entries: HashMap<K, Entry>,
    running: usize,
    closed: bool,
}

/// What the queue knows about one key, for `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyState {
    pub running: bool,
    pub failures: u32,
    /// The next scheduled run, when any.
    pub due: Option<Instant>,
}

/// A work queue keyed by `K`.
#[derive(Debug)]
pub struct Queue<K> {
    state: Mutex<State<K>>,
    changed: Notify,
    concurrency: usize,
}

impl<K: Hash + Eq + Clone> Queue<K> {
    /// A queue that hands out at most `concurrency` keys at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                entries: HashMap::new(),
                running: 0,
                closed: false,
            }),
            changed: Notify::new(),
            concurrency: concurrency.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        // A panic while holding the lock cannot leave the map inconsistent in a way that matters here.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Schedules `key` to run at `at`; an earlier pending run wins.
    pub fn schedule_at(&self, key: K, at: Instant) {
        {
            let mut st = self.lock();
            let e = st.entries.entry(key).or_insert(Entry {
                due: None,
                running: false,
                failures: 0,
            });
            e.due = Some(match e.due {
                Some(d) if d <= at => d,
                _ => at,
            });
        }
        self.changed.notify_waiters();
    }

    /// Schedules `key` to run now.
    pub fn schedule(&self, key: K) {
        self.schedule_at(key, Instant::now());
    }

    /// Runs `key` now, forgetting its backoff (its manifest changed).
    pub fn retry_now(&self, key: K) {
        {
            let mut st = self.lock();
            let e = st.entries.entry(key).or_insert(Entry {
                due: None,
                running: false,
                failures: 0,
            });
            e.failures = 0;
            e.due = Some(Instant::now());
        }
        self.changed.notify_waiters();
    }

    /// Forgets `key` unless it is running (its resource is gone).
    pub fn forget(&self, key: &K) {
        let mut st = self.lock();
        if st.entries.get(key).is_some_and(|e| !e.running) {
            st.entries.remove(key);
        }
    }

    /// Waits for the next due key that is not running while a concurrency slot is free, and marks
    /// it running. `None` once the queue is closed.
    pub async fn next(&self) -> Option<K> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = {
                let mut st = self.lock();
                if st.closed {
                    return None;
                }
                let now = Instant::now();
                let mut earliest: Option<(Instant, &K)> = None;
                if st.running < self.concurrency {
                    for (k, e) in &st.entries {
                        if let Some(d) = e.due
                            && !e.running
                            && earliest.is_none_or(|(best, _)| d < best)
                        {
                            earliest = Some((d, k));
                        }
                    }
                }
                match earliest {
                    Some((d, k)) if d <= now => {
                        let k = k.clone();
                        st.running += 1;
                        if let Some(e) = st.entries.get_mut(&k) {
                            e.running = true;
                            e.due = None;
                        }
                        return Some(k);
                    }
                    Some((d, _)) => Some(d),
                    None => None,
                }
            };
            match wake_at {
                Some(d) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(d) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key`, handed out by [`Queue::next`], finished with outcome `ok` (see
    /// [`Queue::outcome`]) and frees its slot.
    pub fn done(&self, key: &K, ok: bool) -> Option<Instant> {
        let retry = self.outcome(key, ok);
        self.release(key);
        retry
    }

    /// Frees the slot of `key`, handed out by [`Queue::next`], whose outcome is already recorded.
    pub fn release(&self, key: &K) {
        {
            let mut st = self.lock();
            if let Some(e) = st.entries.get_mut(key)
                && e.running
            {
                e.running = false;
                st.running = st.running.saturating_sub(1);
            }
        }
        self.changed.notify_waiters();
    }

    /// Records the outcome of a reconcile of `key`, whether or not the queue handed it out (a
    /// full pass, or another key's pass, reconciles it too); a key running meanwhile keeps
    /// running. A failure schedules a retry after the backoff unless it was scheduled again
    /// meanwhile (then that earlier run wins); a success resets the backoff. Returns when the key
    /// runs next after a failure.
    pub fn outcome(&self, key: &K, ok: bool) -> Option<Instant> {
        let retry = {
            let mut st = self.lock();
            let e = st.entries.entry(key.clone()).or_insert(Entry {
                due: None,
                running: false,
                failures: 0,
            });
            if ok {
                e.failures = 0;
                None
            } else {
                e.failures = e.failures.saturating_add(1);
                let at = Instant::now() + jittered_backoff(e.failures);
                let due = match e.due {
                    Some(d) if d <= at => d,
                    _ => at,
                };
                e.due = Some(due);
                Some(due)
            }
        };
        self.changed.notify_waiters();
        retry
    }

    /// Stops handing out keys; `next` returns `None` from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_waiters();
    }

    /// Keys scheduled and not running (the queue depth gauge).
    pub fn pending(&self) -> usize {
        self.lock()
            .entries
            .values()
            .filter(|e| e.due.is_some() && !e.running)
            .count()
    }

    /// Keys running now.
    pub fn running(&self) -> usize {
        self.lock().running
    }

    /// What the queue knows about `key`.
    pub fn key_state(&self, key: &K) -> Option<KeyState> {
        self.lock().entries.get(key).map(|e| KeyState {
            running: e.running,
            failures: e.failures,
            due: e.due,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Takes a key if one is ready right now (after letting timers fire).
    async fn try_next(q: &Queue<&'static str>) -> Option<&'static str> {
        tokio::time::timeout(Duration::from_millis(1), q.next())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test(start_paused = true)]
    async fn duplicates_collapse_and_earliest_wins() {
        let q = Queue::new(4);
        let now = Instant::now();
        q.schedule_at("a", now + Duration::from_secs(10));
        q.schedule_at("a", now + Duration::from_secs(2));
        q.schedule_at("a", now + Duration::from_secs(5));
        assert_eq!(q.pending(), 1);
        assert_eq!(try_next(&q).await, None);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(try_next(&q).await, Some("a"));
        q.done(&"a", true);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(try_next(&q).await, None, "collapsed entries must not run again");
    }

    #[tokio::test(start_paused = true)]
    async fn never_runs_one_key_twice_at_once() {
        let q = Queue::new(4);
        q.schedule("a");
        assert_eq!(try_next(&q).await, Some("a"));
        q.schedule("a");
        assert_eq!(try_next(&q).await, None, "a is running");
        q.done(&"a", true);
        assert_eq!(
            try_next(&q).await,
            Some("a"),
            "re-queued while running: runs again after"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_bounded() {
        let q = Queue::new(2);
        for k in ["a", "b", "c"] {
            q.schedule(k);
        }
        let first = try_next(&q).await;
        let second = try_next(&q).await;
        assert!(first.is_some() && second.is_some());
        assert_eq!(try_next(&q).await, None, "two running, limit two");
        assert_eq!(q.running(), 2);
        if let Some(k) = first {
            q.done(&k, true);
        }
        assert!(try_next(&q).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_with_jitter() {
        let q = Queue::new(1);
        q.schedule("a");
        let mut previous = Duration::ZERO;
        for failures in 1..=12u32 {
            assert_eq!(try_next(&q).await, Some("a"));
            let start = Instant::now();
            let retry = q.done(&"a", false).map(|at| at - start);
            let Some(delay) = retry else {
                panic!("a failure must schedule a retry")
            };
            let nominal = backoff(failures);
            assert!(delay >= nominal.mul_f64(0.89) && delay <= nominal.mul_f64(1.11).min(BACKOFF_MAX));
            assert!(delay <= BACKOFF_MAX);
            if nominal < BACKOFF_MAX {
                assert!(delay > previous, "gaps grow: {delay:?} after {previous:?}");
            }
            previous = delay;
            // Not before the delay...
            tokio::time::advance(delay.mul_f64(0.5)).await;
            assert_eq!(try_next(&q).await, None);
            // ...but after it.
            tokio::time::advance(delay).await;
            assert_eq!(q.key_state(&"a").map(|s| s.failures), Some(failures));
        }
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(9), Duration::from_secs(256));
        assert_eq!(backoff(10), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_now_skips_the_backoff() {
        let q = Queue::new(1);
        q.schedule("a");
        assert_eq!(try_next(&q).await, Some("a"));
        for _ in 0..5 {
            q.done(&"a", false);
            tokio::time::advance(Duration::from_secs(400)).await;
            assert_eq!(try_next(&q).await, Some("a"));
        }
        q.done(&"a", false);
        assert_eq!(try_next(&q).await, None, "backing off");
        q.retry_now("a");
        assert_eq!(try_next(&q).await, Some("a"));
        assert_eq!(q.key_state(&"a").map(|s| s.failures), Some(0));
        q.done(&"a", false);
        let s = q.key_state(&"a");
        assert_eq!(s.map(|s| s.failures), Some(1), "the backoff starts over");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_worker_wakes_on_schedule_and_close() {
        let q = Arc::new(Queue::new(1));
        let waiter = tokio::spawn({
            let q = Arc::clone(&q);
            async move { q.next().await }
        });
        tokio::task::yield_now().await;
        q.schedule("x");
        assert_eq!(waiter.await.ok().flatten(), Some("x"));
        let waiter = tokio::spawn({
            let q = Arc::clone(&q);
            async move { q.next().await }
        });
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(waiter.await.ok().flatten(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_outcome_recorded_by_another_pass_never_frees_a_running_key() {
        let q = Queue::new(2);
        q.schedule("a");
        assert_eq!(try_next(&q).await, Some("a"));
        // A full pass reports `a` failed while the worker still runs it; `a` is changed again.
        assert!(q.outcome(&"a", false).is_some());
        q.schedule("a");
        assert_eq!(try_next(&q).await, None, "a is running: never handed out twice");
        assert_eq!(q.running(), 1);
        q.release(&"a");
        assert_eq!(q.running(), 0, "the slot is freed once, by its worker");
        assert_eq!(try_next(&q).await, Some("a"));
        q.release(&"a");
        assert_eq!((q.running(), q.pending()), (0, 0));
    }
}
