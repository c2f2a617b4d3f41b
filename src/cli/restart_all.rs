//! `rebound restart --all`: a rolling restart of every replica through RollingRestart,
//! printed one line per step, then waiting for the last replica (the one at `--addr`, whose
//! own restart ends the stream) until its restart is complete and it serves a new
//! generation. Exits non-zero with the server's reason when a replica fails.

use super::{ClientArgs, display, rpc};
use crate::exit;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;
use crate::proto::v1::restart_service_client::RestartServiceClient;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

/// How long the last replica may take when `--replica-timeout` is not given (the server's
/// default for the others).
const OWN_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between two looks at the last replica.
const POLL: Duration = Duration::from_millis(100);

fn label(replica: &pb::ReplicaRestart) -> String {
    format!("replica {} {}", replica.replica_id, replica.address)
}

/// Run the rolling restart; `Err` holds the exit code of a failure already reported.
pub async fn run(
    args: &ClientArgs,
    restart: pb::RestartRequest,
    replica_timeout: Option<Duration>,
) -> Result<u8, u8> {
    let transport = rpc::connect(args).await?;
    let request = pb::RollingRestartRequest {
        restart: Some(restart),
        replica_timeout: replica_timeout.and_then(|d| prost_types::Duration::try_from(d).ok()),
    };
    let mut stream = RestartServiceClient::new(transport.clone())
        .rolling_restart(request)
        .await
        .map_err(|status| rpc::failed("RollingRestart", &status))?
        .into_inner();
    let mut last = None;
    while let Some(message) = stream.next().await {
        let message = message.map_err(|status| rpc::failed("RollingRestart", &status))?;
        let replica = message.replica.clone().unwrap_or_default();
        match message.step() {
            pb::RollingRestartStep::Planned => {
                println!("rolling restart of {} replica(s), one at a time:", message.plan.len());
                for replica in &message.plan {
                    let this = if replica.coordinator { " (this one, last)" } else { "" };
                    println!(
                        "  {}. {}  generation {}{this}",
                        replica.position,
                        label(replica),
                        replica.generation_before
                    );
                }
            }
            pb::RollingRestartStep::Restarting => {
                println!("{}: restarting (restart {})", label(&replica), replica.restart_id);
            }
            pb::RollingRestartStep::Serving => println!(
                "{}: generation {} -> {}, serving after {}",
                label(&replica),
                replica.generation_before,
                replica.generation_after,
                display::millis(replica.time_to_serving.as_ref())
            ),
            pb::RollingRestartStep::RestartingSelf => {
                println!("{}: restarting (restart {})", label(&replica), replica.restart_id);
                last = Some(replica);
                break;
            }
            pb::RollingRestartStep::Unspecified => {}
        }
    }
    let Some(last) = last else {
        eprintln!("rebound: RollingRestart ended before the last replica was restarted");
        return Err(exit::FAILURE);
    };
    let started = Instant::now();
    let generation = wait_own(transport, &last, replica_timeout.unwrap_or(OWN_TIMEOUT)).await?;
    let took = prost_types::Duration::try_from(started.elapsed()).ok();
    println!(
        "{}: generation {} -> {generation}, serving after {}",
        label(&last),
        last.generation_before,
        display::millis(took.as_ref())
    );
    println!("rolling restart complete");
    Ok(exit::OK)
}

/// Wait until the last replica's restart is complete and it serves a higher generation (its
/// successor answers on the same address); its new generation.
async fn wait_own(
    transport: crate::client::Transport,
    replica: &pb::ReplicaRestart,
    limit: Duration,
) -> Result<u64, u8> {
    let started = Instant::now();
    let mut restarts = RestartServiceClient::new(transport.clone());
    let mut health = HealthServiceClient::new(transport);
    loop {
        let request = pb::GetRestartStatusRequest { restart_id: replica.restart_id.clone() };
        let event =
            restarts.get_restart_status(request).await.ok().and_then(|r| r.into_inner().restart);
        let phase = event.as_ref().map(pb::RestartEvent::phase);
        match phase {
            Some(pb::RestartPhase::Failed | pb::RestartPhase::RolledBack) => {
                let event = event.unwrap_or_default();
                eprintln!(
                    "rebound: {}: restart {} {}: {}",
                    label(replica),
                    replica.restart_id,
                    display::name(event.phase().as_str_name(), "RESTART_PHASE_"),
                    event.error
                );
                return Err(exit::FAILURE);
            }
            Some(pb::RestartPhase::Complete) => {
                if let Ok(answer) = health.get_health(pb::GetHealthRequest {}).await {
                    let answer = answer.into_inner();
                    if answer.status() == pb::ServingStatus::Serving
                        && answer.generation > replica.generation_before
                    {
                        return Ok(answer.generation);
                    }
                }
            }
            _ => {}
        }
        if started.elapsed() >= limit {
            eprintln!(
                "rebound: {}: not serving with a new generation {limit:?} after its restart {} began",
                label(replica),
                replica.restart_id
            );
            return Err(exit::UNAVAILABLE);
        }
        tokio::time::sleep(POLL).await;
    }
}
