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
    out
}
