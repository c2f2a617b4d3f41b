//! The HTTP adapter on `server.http_listen`: the operator console at `/` (its files under
//! `/console/`), the console's JSON gateway to the gRPC API under `/api/`, and Prometheus
//! metrics at `/metrics`.
//!
//! Routes are thin: the gateway runs the same gRPC services (and the same auth, policy,
//! audit and drain layer) as the gRPC listener; the scrape handler asks the command domain
//! for the device counts, sets the gauges and encodes the registry of `crate::metrics`.
//! Nothing here holds a rule of its own. Serving (TLS, connection accounting, the drain) is
//! [`serve`]'s.

mod assets;
pub mod gateway;
pub mod grpc;
mod json;
pub mod serve;
mod sse;

use crate::commands::Fleet;
use crate::metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gateway::Gateway;
use std::sync::Arc;

/// The routes of the HTTP listener.
pub fn router(fleet: Arc<Fleet>, gateway: Gateway) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/console/{file}", get(assets::file))
        .route("/metrics", get(scrape))
        .with_state(fleet)
        .merge(gateway::routes(gateway))
        .fallback(not_found)
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found: this listener serves /, /console/, /api/ and /metrics\n")
}

/// Read the state gauges from the domain, then encode every family. A store that cannot
/// count leaves the device gauges at their last values (and says so in the log); the scrape
/// still answers.
async fn scrape(State(fleet): State<Arc<Fleet>>) -> Response {
    let metrics = metrics::metrics();
    match fleet.device_counts().await {
        Ok(counts) => {
            for (state, count) in counts.by_state() {
                metrics.set_devices(state, count);
            }
        }
        Err(err) => tracing::warn!(error = %err, "metrics: device counts unavailable"),
    }
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], metrics.encode()).into_response()
}
