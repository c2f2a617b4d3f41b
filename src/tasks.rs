//! Supervision of the server's background loops (MQTT gateway, scheduler, retention, …).
//!
//! Every loop is spawned through [`Tasks::spawn`] and receives a [`TaskControl`]. A loop
//! `select!`s on [`TaskControl::changed`] next to its own work, and at a safe point calls
//! [`TaskControl::checkpoint`], which parks it while the server is suspended (hot restart:
//! before the state snapshot) and tells it to return when the server stops. So
//! [`Tasks::suspend`] returns only once every loop is parked at a safe point, and
//! [`Tasks::stop`] once every loop has returned.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// What the loops are asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Running,
    Suspended,
    Stopping,
}

/// Owner of the background loops. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Tasks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: watch::Sender<TaskState>,
    /// Loops alive and loops parked in `checkpoint`, updated together.
    counts: watch::Sender<Counts>,
    tracker: TaskTracker,
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
}

impl Tasks {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: watch::Sender::new(TaskState::Running),
                counts: watch::Sender::new(Counts::default()),
                tracker: TaskTracker::new(),
            }),
        }
    }

    /// Spawn a named, instrumented loop.
    pub fn spawn<F, Fut>(&self, name: &'static str, body: F)
    where
        F: FnOnce(TaskControl) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let control =
            TaskControl { state: self.inner.state.subscribe(), inner: self.inner.clone() };
        let body = body(control);
        let span = tracing::info_span!("task", task.name = name);
        let inner = self.inner.clone();
        self.inner.counts.send_modify(|c| c.alive += 1);
        self.inner.tracker.spawn(
            async move {
                body.await;
                inner.counts.send_modify(|c| c.alive -= 1);
                tracing::debug!("task finished");
            }
            .instrument(span),
        );
    }

    /// Number of loops spawned and not yet finished.
    pub fn running(&self) -> usize {
        self.inner.counts.borrow().alive
    }

    pub fn state(&self) -> TaskState {
        *self.inner.state.borrow()
    }

    /// Ask every loop to park at its next checkpoint and wait until all have, or `timeout`.
    /// Returns the number of loops that did not park in time.
    pub async fn suspend(&self, timeout: Duration) -> usize {
        self.inner.state.send_replace(TaskState::Suspended);
        let mut counts = self.inner.counts.subscribe();
        let all_parked = counts.wait_for(|c| c.parked >= c.alive);
        match tokio::time::timeout(timeout, all_parked).await {
            Ok(_) => 0,
            Err(_) => {
                let counts = *self.inner.counts.borrow();
                counts.alive.saturating_sub(counts.parked)
            }
        }
    }

    /// Let parked loops continue.
    pub fn resume(&self) {
        self.inner.state.send_replace(TaskState::Running);
    }

    /// Tell every loop to return and wait for them, up to `timeout`. Returns how many are
    /// still running after it.
    pub async fn stop(&self, timeout: Duration) -> usize {
        self.inner.state.send_replace(TaskState::Stopping);
        self.inner.tracker.close();
        let _ = tokio::time::timeout(timeout, self.inner.tracker.wait()).await;
        self.running()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    alive: usize,
    parked: usize,
}

/// A loop's view of the supervisor.
#[derive(Debug)]
pub struct TaskControl {
    state: watch::Receiver<TaskState>,
    inner: Arc<Inner>,
}

impl TaskControl {
    /// Resolves when the requested state changes; put it in the loop's `select!`.
    pub async fn changed(&mut self) {
        if self.state.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether the loop has been told to stop.
    pub fn is_stopping(&self) -> bool {
        *self.state.borrow() == TaskState::Stopping
    }

    /// Whether the loop has been asked to park (hot restart) and should reach its checkpoint,
    /// releasing what the successor needs first (e.g. the MQTT session).
    pub fn is_suspended(&self) -> bool {
        *self.state.borrow() == TaskState::Suspended
    }

    /// Call at a safe point. Parks while suspended; returns `false` when the loop must stop
    /// and `true` to carry on.
    pub async fn checkpoint(&mut self) -> bool {
        loop {
            let state = *self.state.borrow_and_update();
            match state {
                TaskState::Running => return true,
                TaskState::Stopping => return false,
                TaskState::Suspended => {
                    self.inner.counts.send_modify(|c| c.parked += 1);
                    let changed = self.state.changed().await;
                    self.inner.counts.send_modify(|c| c.parked -= 1);
                    if changed.is_err() {
                        return false;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const LIMIT: Duration = Duration::from_secs(5);

    /// A loop that counts iterations and obeys its control.
    fn counting_loop(tasks: &Tasks, counter: Arc<AtomicUsize>) {
        tasks.spawn("counter", move |mut control| async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            loop {
                tokio::select! {
                    _ = control.changed() => {}
                    _ = tick.tick() => { counter.fetch_add(1, Ordering::SeqCst); }
                }
                if !control.checkpoint().await {
                    return;
                }
            }
        });
    }

    /// With the clock paused, the 20 ms sleep auto-advances only once every runnable task has
    /// run: a loop that was not parked ticks about 20 times, however slow the machine is.
    #[tokio::test(start_paused = true)]
    async fn suspend_parks_every_loop_and_resume_lets_them_continue() {
        let tasks = Tasks::new();
        let counters: Vec<_> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        for counter in &counters {
            counting_loop(&tasks, counter.clone());
        }
        assert_eq!(tasks.suspend(LIMIT).await, 0);
        let frozen: Vec<_> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let still: Vec<_> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert_eq!(frozen, still, "no loop runs while suspended");
        tasks.resume();
        let target = still[0] + 5;
        crate::testing::until("the first loop to run again", || {
            counters[0].load(Ordering::SeqCst) >= target
        })
        .await;
        assert_eq!(tasks.stop(LIMIT).await, 0);
        assert_eq!(tasks.running(), 0);
    }

    #[tokio::test]
    async fn stop_ends_suspended_loops_too() {
        let tasks = Tasks::new();
        counting_loop(&tasks, Arc::new(AtomicUsize::new(0)));
        assert_eq!(tasks.suspend(LIMIT).await, 0);
        assert_eq!(tasks.stop(LIMIT).await, 0);
    }
}
