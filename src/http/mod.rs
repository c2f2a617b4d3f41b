//! The HTTP adapter on `server.http_listen`: Prometheus metrics at `/metrics` and, at `/`, a
//! small index page naming what this listener offers (the operator console is to come).
//!
//! Routes are thin: the scrape handler asks the command domain for the device counts, sets
//! the gauges and encodes the registry of `crate::metrics`; it holds no rule of its own.
//! Serving (TLS, connection accounting, the drain) is [`serve`]'s.

pub mod serve;

use crate::commands::Fleet;
use crate::metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// The index page at `/`.
const INDEX: &str = include_str!("index.html");

/// The routes of the HTTP listener.
pub fn router(fleet: Arc<Fleet>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(scrape))
        .fallback(not_found)
        .with_state(fleet)
}

async fn index() -> Html<&'static str> {
    Html(INDEX)
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found: this listener serves / and /metrics\n")
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
