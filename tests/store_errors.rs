//! Store failures as a caller sees them on the real process: a request the database cannot
//! run is refused by the API naming the field, not answered with the driver's text as
//! UNAVAILABLE (which clients retry).

mod support;

use rebound::proto::v1 as pb;
use rebound::proto::v1::restart_service_client::RestartServiceClient;
use support::Server;

#[tokio::test]
async fn a_filter_repeated_a_thousand_times_is_invalid_argument_naming_the_field() {
    let server = Server::start("").await;
    let mut restarts = RestartServiceClient::new(server.channel().await);
    let outcomes = vec![pb::RestartOutcome::Succeeded as i32; 1000];
    let refused = restarts
        .list_restart_events(pb::ListRestartEventsRequest { outcomes, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert_eq!(refused.message(), "outcomes: at most 100 values, got 1000");
    // The documented maximum still runs.
    let outcomes = vec![pb::RestartOutcome::Succeeded as i32; 100];
    let listed = restarts
        .list_restart_events(pb::ListRestartEventsRequest { outcomes, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.events.is_empty());
}
