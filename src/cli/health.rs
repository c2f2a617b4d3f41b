//! `rebound health`: print a running server's health report.

use super::ClientArgs;
use crate::exit;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;
use clap::Args;

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: HealthArgs) -> u8 {
    let channel = match super::rpc::connect(&args.client).await {
        Ok(channel) => channel,
        Err(code) => return code,
    };
    let report = match HealthServiceClient::new(channel).get_health(pb::GetHealthRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            let code = super::rpc::failed("GetHealth", &status);
            // Refused credentials are the caller's problem, not the server's health.
            let refused = matches!(
                status.code(),
                tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
            );
            return if refused { code } else { exit::UNAVAILABLE };
        }
    };
    print!("{}", render(&report));
    if report.status() == pb::ServingStatus::Serving { exit::OK } else { exit::UNAVAILABLE }
}

fn render(report: &pb::GetHealthResponse) -> String {
    let status = report.status().as_str_name().trim_start_matches("SERVING_STATUS_");
    let uptime = report
        .uptime
        .and_then(|d| std::time::Duration::try_from(d).ok())
        .map(|d| {
            humantime::format_duration(std::time::Duration::from_secs(d.as_secs())).to_string()
        })
        .unwrap_or_default();
    let mut out = format!(
        "status      {status}\nversion     {} ({})\npid         {}\ngeneration  {}\nuptime      {uptime}\ncomponents\n",
        report.version, report.git_sha, report.pid, report.generation
    );
    for component in &report.components {
        let state = component.status().as_str_name().trim_start_matches("COMPONENT_STATUS_");
        out.push_str(&format!("  {:<9} {:<10} {}\n", component.name, state, component.detail));
    }
    if let Some(cluster) = &report.cluster {
        out.push_str(&render_cluster(cluster));
    }
    out
}

/// The cluster section: this replica, whether it leads, the epoch, the live replicas.
fn render_cluster(cluster: &pb::ClusterStatus) -> String {
    let yes_no = |leader: bool| if leader { "yes" } else { "no" };
    let mut out = format!(
        "replica     {}\nleader      {}\nlease epoch {}\nreplicas    {} live\n",
        cluster.replica_id,
        yes_no(cluster.leader),
        cluster.lease_epoch,
        cluster.replicas.len()
    );
    for replica in &cluster.replicas {
        let leader = if replica.leader { "leader" } else { "" };
        let line = format!(
            "  {:<12} {:<22} pid {:<8} generation {:<3} {leader}",
            replica.replica_id, replica.listen, replica.pid, replica.generation
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_section_names_the_replica_the_leader_and_the_live_replicas() {
        let replica = |id: &str, leader| pb::ReplicaStatus {
            replica_id: id.into(),
            listen: "127.0.0.1:50051".into(),
            leader,
            heartbeat_at: None,
            pid: 42,
            generation: 0,
        };
        let report = pb::GetHealthResponse {
            cluster: Some(pb::ClusterStatus {
                replica_id: "a1".into(),
                leader: false,
                lease_epoch: 7,
                replicas: vec![replica("a1", false), replica("b2", true)],
            }),
            ..Default::default()
        };
        let out = render(&report);
        assert!(
            out.contains("replica     a1\nleader      no\nlease epoch 7\nreplicas    2 live\n"),
            "{out}"
        );
        assert!(out.lines().any(|l| l.contains("b2") && l.ends_with("leader")), "{out}");
    }
}
