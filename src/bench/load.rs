//! Closed-loop unary load (GetHealth) for the benchmarks: each client has its own connection
//! (the retrying transport, as a real client would) and records every call's start, latency
//! and success. Nothing is retried by the load itself: every error is counted.

use crate::client::Transport;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Pause after a failed call, so a refused connection does not spin the loop.
const ERROR_PAUSE: Duration = Duration::from_millis(5);
/// Longest a call may take before it counts as failed: a call that never answers fails the
/// run with a message instead of holding the benchmark (and its caller) forever.
const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// One call.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Start, relative to the load's epoch.
    pub start: Duration,
    pub latency: Duration,
    pub ok: bool,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<(Vec<Sample>, Vec<String>)>,
    pub epoch: Instant,
}

impl Load {
    pub async fn start(addr: &str, clients: usize) -> Result<Self, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..clients {
            let transport = Transport::connect(addr).await.map_err(|e| e.to_string())?;
            let stop = stop.clone();
            tasks.spawn(async move {
                let mut client = HealthServiceClient::new(transport);
                let (mut samples, mut errors) = (Vec::new(), Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let call = client.get_health(pb::GetHealthRequest {});
                    let result = match tokio::time::timeout(CALL_DEADLINE, call).await {
                        Ok(result) => result,
                        Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                            "no answer within {CALL_DEADLINE:?}"
                        ))),
                    };
                    samples.push(Sample {
                        start: started - epoch,
                        latency: started.elapsed(),
                        ok: result.is_ok(),
                    });
                    if let Err(status) = result {
                        if errors.len() < 20 {
                            errors.push(format!("{:?}: {}", status.code(), status.message()));
                        }
                        tokio::time::sleep(ERROR_PAUSE).await;
                    }
                }
                (samples, errors)
            });
        }
        Ok(Self { stop, tasks, epoch })
    }

    /// Stop and return every sample (and the first few error messages).
    pub async fn stop(mut self) -> (Vec<Sample>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut samples, mut errors) = (Vec::new(), Vec::new());
        while let Some(Ok((s, e))) = self.tasks.join_next().await {
            samples.extend(s);
            errors.extend(e);
        }
        (samples, errors)
    }
}

/// Latencies of the successful samples inside and outside the `windows` (start, end).
pub struct Split {
    pub inside: Vec<Duration>,
    pub outside: Vec<Duration>,
    pub failed: usize,
    pub total: usize,
}

pub fn split(samples: &[Sample], windows: &[(Duration, Duration)]) -> Split {
    let mut split =
        Split { inside: Vec::new(), outside: Vec::new(), failed: 0, total: samples.len() };
    for sample in samples {
        if !sample.ok {
            split.failed += 1;
            continue;
        }
        let end = sample.start + sample.latency;
        let overlaps = windows.iter().any(|(from, to)| sample.start < *to && end > *from);
        if overlaps {
            split.inside.push(sample.latency)
        } else {
            split.outside.push(sample.latency)
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_split_by_overlap_with_the_windows() {
        let ms = Duration::from_millis;
        let sample = |start, latency, ok| Sample { start: ms(start), latency: ms(latency), ok };
        let samples =
            [sample(0, 5, true), sample(8, 5, true), sample(20, 1, true), sample(30, 1, false)];
        let split = split(&samples, &[(ms(10), ms(15))]);
        assert_eq!(
            (split.inside.len(), split.outside.len(), split.failed, split.total),
            (1, 2, 1, 4)
        );
        assert_eq!(split.inside, [ms(5)]);
    }
}
