//! Tools for the server's own lifecycle: health, hot restart, restart readiness and status,
//! and the reconnect self-test (HealthService and RestartService).

use super::{ToolResult, Tools, invalid, ok};
use crate::mcp::gateway::BufferStatus;
use crate::mcp::json::to_json;
use crate::mcp::params::{
    HealthCheck, ReconnectTest, RestartServer, RestartStatus, ShutdownPrepare,
};
use crate::mcp::render;
use crate::mcp::schema;
use crate::proto::v1 as pb;
use crate::proto::v1::health_service_client::HealthServiceClient;
use crate::proto::v1::restart_service_client::RestartServiceClient;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::JsonObject;
use rmcp::{tool, tool_router};
use serde_json::{Value, json};
use std::sync::Arc;

#[tool_router(router = restart_tools, vis = "pub(super)")]
impl Tools {
    #[tool(
        name = "orchestrator_health_check",
        input_schema = schema::input::<HealthCheck>(),
        output_schema = health_check_output(),
        description = "Health of the rebound server: overall status, components, version, pid and restart generation; optionally the database status, this session's connection (held calls, reconnections, a fresh-connection self-test) and whether a restart could start now.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn health_check(&self, Parameters(args): Parameters<HealthCheck>) -> ToolResult {
        const TOOL: &str = "orchestrator_health_check";
        let health = rpc!(
            self.gateway,
            HealthServiceClient::get_health,
            "/rebound.v1.HealthService/GetHealth",
            pb::GetHealthRequest {}
        )
        .await;
        let health = match health {
            Ok(health) => to_json("GetHealthResponse", &health),
            Err(error) => return self.failed(TOOL, &error),
        };
        let mut text = render::health(&health);
        let mut out = json!({"health": health});
        if args.include_database_status {
            let store = out["health"]["components"]
                .as_array()
                .and_then(|all| all.iter().find(|c| c["name"] == "store").cloned());
            text += &render::database(store.as_ref().unwrap_or(&Value::Null));
            if let Some(store) = store {
                out["database"] = store;
            }
        }
        if args.include_connection_status {
            let buffer = json!(self.gateway.buffer_status());
            text += &render::buffer(&buffer);
            let request =
                pb::TestReconnectRequest { session_id: self.session_id.clone(), timeout: None };
            let test = rpc!(
                self.gateway,
                RestartServiceClient::test_reconnect,
                "/rebound.v1.RestartService/TestReconnect",
                request
            )
            .await;
            let (value, shown) = self.section("TestReconnectResponse", test);
            text += &shown.map_or_else(
                |e| format!("reconnect test unavailable: {e}\n"),
                |v| render::reconnect(&v, false),
            );
            out["connection"] =
                json!({"addr": self.gateway.addr(), "buffer": buffer, "reconnect_test": value});
        }
        if args.include_reboot_readiness {
            let prepare = rpc!(
                self.gateway,
                RestartServiceClient::prepare_shutdown,
                "/rebound.v1.RestartService/PrepareShutdown",
                pb::PrepareShutdownRequest::default()
            )
            .await;
            let (value, shown) = self.section("PrepareShutdownResponse", prepare);
            text += &shown.map_or_else(
                |e| format!("restart readiness unavailable: {e}\n"),
                |v| render::readiness(&v),
            );
            out["reboot_readiness"] = value;
        }
        ok(text, out)
    }

    #[tool(
        name = "orchestrator_restart_server",
        input_schema = schema::input::<RestartServer>(),
        output_schema = schema::response("RestartResponse"),
        description = "Hot-restart the rebound server: a successor process takes over the listening sockets (no refused connections), state is carried over in a verified snapshot, and a bad successor is rolled back. Returns the restart id at once; follow it with orchestrator_restart_status. Calls made while the server is away are held and retried.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn restart_server(&self, Parameters(args): Parameters<RestartServer>) -> ToolResult {
        const TOOL: &str = "orchestrator_restart_server";
        let request = match args.request() {
            Ok(request) => request,
            Err(reason) => return invalid(TOOL, reason),
        };
        let result = rpc!(
            self.gateway,
            RestartServiceClient::restart,
            "/rebound.v1.RestartService/Restart",
            request,
            OnlyUnprocessed
        )
        .await;
        self.reply(TOOL, "RestartResponse", result, |_, value| render::restart_started(value))
    }

    #[tool(
        name = "orchestrator_shutdown_prepare",
        input_schema = schema::input::<ShutdownPrepare>(),
        output_schema = shutdown_prepare_output(),
        description = "Check whether a restart could start now without restarting: ready or not, what blocks it, and the in-flight work a drain would have to finish.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn shutdown_prepare(&self, Parameters(args): Parameters<ShutdownPrepare>) -> ToolResult {
        const TOOL: &str = "orchestrator_shutdown_prepare";
        let response = match rpc!(
            self.gateway,
            RestartServiceClient::prepare_shutdown,
            "/rebound.v1.RestartService/PrepareShutdown",
            pb::PrepareShutdownRequest::default()
        )
        .await
        {
            Ok(response) => to_json("PrepareShutdownResponse", &response),
            Err(error) => return self.failed(TOOL, &error),
        };
        let mut value = response;
        let keep: Vec<&str> =
            [
                (
                    args.check_active_tasks,
                    &[
                        "in_flight_rpcs",
                        "open_streams",
                        "scheduler_tasks",
                        "restart_in_progress",
                        "restart_in_progress_id",
                    ][..],
                ),
                (args.check_database_state, &["pending_store_writes"][..]),
                (args.check_client_connections, &["open_connections"][..]),
                (
                    true,
                    &[
                        "successor_binary",
                        "successor_binary_present",
                        "successor_binary_executable",
                    ][..],
                ),
            ]
            .into_iter()
            .filter(|(wanted, _)| *wanted)
            .flat_map(|(_, keys)| keys.iter().copied())
            .collect();
        if let Some(checks) = value["checks"].as_object_mut() {
            checks.retain(|key, _| keep.contains(&key.as_str()));
        }
        ok(render::readiness(&value), value)
    }

    #[tool(
        name = "orchestrator_restart_status",
        input_schema = schema::input::<RestartStatus>(),
        output_schema = restart_status_output(),
        description = "The running restart, or the most recent one: phase, progress, outcome, generations and pids; optionally the recent restart history and why a restart failed or rolled back.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn restart_status(&self, Parameters(args): Parameters<RestartStatus>) -> ToolResult {
        const TOOL: &str = "orchestrator_restart_status";
        let status = match rpc!(
            self.gateway,
            RestartServiceClient::get_restart_status,
            "/rebound.v1.RestartService/GetRestartStatus",
            pb::GetRestartStatusRequest::default()
        )
        .await
        {
            Ok(status) => status,
            Err(error) => return self.failed(TOOL, &error),
        };
        let strip = |mut event: Value| {
            if !args.include_error_details
                && let Some(object) = event.as_object_mut()
            {
                object.remove("error");
                object.remove("failed_phase");
            }
            event
        };
        let mut out = to_json("GetRestartStatusResponse", &status);
        // No restart recorded: the field stays absent (indexing would write a null).
        if let Some(restart) = out.get_mut("restart") {
            *restart = strip(restart.take());
        }
        let mut text = format!(
            "restart in progress: {}; serving pid {} generation {}\n",
            status.in_progress, status.pid, status.generation
        );
        match status.restart {
            Some(_) => text += &render::restart_event(&out["restart"], args.include_error_details),
            None => text += "no restart has been recorded\n",
        }
        if args.include_history {
            let request = pb::ListRestartEventsRequest { page_size: 10, ..Default::default() };
            let history = match rpc!(
                self.gateway,
                RestartServiceClient::list_restart_events,
                "/rebound.v1.RestartService/ListRestartEvents",
                request
            )
            .await
            {
                Ok(history) => to_json("ListRestartEventsResponse", &history),
                Err(error) => return self.failed(TOOL, &error),
            };
            let events: Vec<Value> = history["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(strip)
                .collect();
            text += &format!("history ({} most recent)\n", events.len());
            for event in &events {
                text += &render::restart_event(event, args.include_error_details);
            }
            out["history"] = Value::Array(events);
        }
        ok(text, out)
    }

    #[tool(
        name = "orchestrator_reconnect_test",
        input_schema = schema::input::<ReconnectTest>(),
        output_schema = reconnect_test_output(),
        description = "Prove that a fresh connection and a call succeed against the serving process (the server dials itself), with latencies; the server remembers the session across restarts. Optionally this session's buffer of held calls and the server's reconnection statistics.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn reconnect_test(&self, Parameters(args): Parameters<ReconnectTest>) -> ToolResult {
        const TOOL: &str = "orchestrator_reconnect_test";
        let request = pb::TestReconnectRequest {
            session_id: args.session_id.clone().unwrap_or_else(|| self.session_id.clone()),
            timeout: None,
        };
        let mut out = match rpc!(
            self.gateway,
            RestartServiceClient::test_reconnect,
            "/rebound.v1.RestartService/TestReconnect",
            request
        )
        .await
        {
            Ok(response) => to_json("TestReconnectResponse", &response),
            Err(error) => return self.failed(TOOL, &error),
        };
        let mut text = render::reconnect(&out, args.include_reconnection_stats);
        if !args.include_reconnection_stats
            && let Some(object) = out.as_object_mut()
        {
            object.remove("stats");
        }
        if args.include_buffer_status {
            let buffer = json!(self.gateway.buffer_status());
            text += &render::buffer(&buffer);
            out["buffer"] = buffer;
        }
        ok(text, out)
    }
}

// The structured content of the tools above that combine several responses.

/// `health`, and per option: `database` (the store component, when the server reports
/// one), `connection` and `reboot_readiness` (each section may be unavailable).
fn health_check_output() -> Arc<JsonObject> {
    let component =
        schema::message("GetHealthResponse")["properties"]["components"]["items"].clone();
    let connection = schema::object(
        &[
            ("addr", json!({"type": "string"})),
            ("buffer", schema::serialized::<BufferStatus>()),
            ("reconnect_test", schema::section(schema::message("TestReconnectResponse"))),
        ],
        &[],
    );
    schema::output(schema::object(
        &[("health", schema::message("GetHealthResponse"))],
        &[
            ("database", component),
            ("connection", connection),
            ("reboot_readiness", schema::section(schema::message("PrepareShutdownResponse"))),
        ],
    ))
}

/// PrepareShutdownResponse with only the checks that were asked for.
fn shutdown_prepare_output() -> Arc<JsonObject> {
    let mut response = schema::message("PrepareShutdownResponse");
    let checks = response["properties"]["checks"].take();
    let optional: Vec<String> = checks["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|name| !name.starts_with("successor_binary"))
        .map(str::to_owned)
        .collect();
    let optional: Vec<&str> = optional.iter().map(String::as_str).collect();
    response["properties"]["checks"] = schema::relax(checks, &optional);
    schema::output(response)
}

/// GetRestartStatusResponse plus `history` when asked; without error details, the
/// restarts carry no `error` and `failed_phase`.
fn restart_status_output() -> Arc<JsonObject> {
    let mut status = schema::message("GetRestartStatusResponse");
    let event = schema::relax(status["properties"]["restart"].take(), &["error", "failed_phase"]);
    status["properties"]["restart"] = event.clone();
    status["properties"]["history"] = json!({"type": "array", "items": event});
    schema::output(status)
}

/// TestReconnectResponse (its `stats` only when asked) plus `buffer` when asked.
fn reconnect_test_output() -> Arc<JsonObject> {
    let mut response = schema::relax(schema::message("TestReconnectResponse"), &["stats"]);
    response["properties"]["buffer"] = schema::serialized::<BufferStatus>();
    schema::output(response)
}
