//! CPU time spent by processes, per thread name, read from Linux's `/proc/PID/task/*/schedstat`
//! (nanoseconds on a CPU). A benchmark samples its participants before and after a phase and
//! reports the difference: which process — and which of its threads — the phase cost what.

use std::collections::BTreeMap;
use std::time::Duration;

/// CPU time so far of each thread name (threads of one name summed), per labelled process.
#[derive(Debug, Clone, Default)]
pub struct CpuSample {
    threads: BTreeMap<(String, String), Duration>,
}

impl CpuSample {
    /// Sample `(label, pid)` for every process; a process that is gone contributes nothing.
    pub fn take(processes: &[(&str, u32)]) -> Self {
        let mut threads = BTreeMap::new();
        for (label, pid) in processes {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
            for task in tasks.flatten() {
                let path = task.path();
                let Some(on_cpu) = std::fs::read_to_string(path.join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                else {
                    continue;
                };
                let name = std::fs::read_to_string(path.join("comm"))
                    .map(|n| thread_kind(n.trim()))
                    .unwrap_or_default();
                *threads.entry(((*label).to_owned(), name)).or_default() +=
                    Duration::from_nanos(on_cpu);
            }
        }
        Self { threads }
    }

    /// What was spent since `earlier` (threads that ended in between are not counted).
    pub fn since(&self, earlier: &CpuSample) -> CpuSample {
        let threads = self
            .threads
            .iter()
            .map(|(key, now)| {
                let before = earlier.threads.get(key).copied().unwrap_or_default();
                (key.clone(), now.saturating_sub(before))
            })
            .collect();
        CpuSample { threads }
    }

    /// Add `other`'s times to these.
    pub fn add(&mut self, other: &CpuSample) {
        for (key, spent) in &other.threads {
            *self.threads.entry(key.clone()).or_default() += *spent;
        }
    }

    /// Total of one labelled process.
    pub fn process(&self, label: &str) -> Duration {
        self.threads.iter().filter(|((l, _), _)| l == label).map(|(_, d)| *d).sum()
    }

    /// `(label, thread name, time)` of every entry, largest first.
    pub fn entries(&self) -> Vec<(&str, &str, Duration)> {
        let mut entries: Vec<_> =
            self.threads.iter().map(|((l, t), d)| (l.as_str(), t.as_str(), *d)).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.2));
        entries
    }
}

/// A thread name without its trailing number (`sqlx-sqlite-worker-3` and `-4` are one kind).
fn thread_kind(name: &str) -> String {
    name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_spends_cpu_between_two_samples() {
        let pid = std::process::id();
        let before = CpuSample::take(&[("me", pid)]);
        // Spin until the samples see 10 ms of CPU (on a loaded machine 30 ms of wall time
        // may hold less), or give up after 10 s of wall time.
        let mut x = 0u64;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let spent = loop {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            let spent = CpuSample::take(&[("me", pid)]).since(&before);
            if spent.process("me") >= Duration::from_millis(10)
                || std::time::Instant::now() > deadline
            {
                break spent;
            }
        };
        assert!(spent.process("me") >= Duration::from_millis(10), "{spent:?}");
        assert_eq!(spent.process("nobody"), Duration::ZERO);
    }

    #[test]
    fn thread_names_lose_their_number() {
        assert_eq!(thread_kind("tokio-runtime-w"), "tokio-runtime-w");
        assert_eq!(thread_kind("sqlx-sqlite-worker-12"), "sqlx-sqlite-worker");
    }
}
