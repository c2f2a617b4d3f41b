//! The MCP tools of `rebound-mcp`, one per operation an assistant needs, each calling the
//! rebound gRPC API through the [`Gateway`] (which holds calls while the server is away).
//!
//! Tool names are those of the original orchestrator so existing prompts keep working.
//! Every result carries readable text plus the response as structured content; every
//! failure is a tool error (`isError`) that explains the gRPC status. This module maps
//! arguments to requests and responses to results; it holds no state of its own.

use super::gateway::{CallError, Gateway};
use super::params::Invalid;
use super::{explain::explain, json::to_json};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{ErrorData, ServerHandler, tool_handler};
use serde_json::{Value, json};
use std::sync::Arc;

/// One attempt of `$client::$method($request)` on a transport, held and retried by the
/// gateway; replayable after a broken connection unless `OnlyUnprocessed` is given.
macro_rules! rpc {
    ($gateway:expr, $client:ident :: $method:ident, $path:literal, $request:expr) => {
        rpc!($gateway, $client::$method, $path, $request, Safe)
    };
    ($gateway:expr, $client:ident :: $method:ident, $path:literal, $request:expr, $replay:ident) => {{
        let request = $request;
        $gateway.call($path, $crate::mcp::gateway::Replay::$replay, move |transport| {
            let request = request.clone();
            async move { $client::new(transport).$method(request).await }
        })
    }};
}

mod admin;
mod fleet;
mod restart;

type ToolResult = Result<CallToolResult, ErrorData>;

/// The MCP server: the tools over one gateway.
#[derive(Clone)]
pub struct Tools {
    gateway: Arc<Gateway>,
    /// This MCP session's id for TestReconnect, so the server can tell it reconnected.
    session_id: String,
    tool_router: ToolRouter<Self>,
}

fn ok(text: String, structured: Value) -> ToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    Ok(result)
}

fn invalid(tool: &str, reason: Invalid) -> ToolResult {
    let text = format!("{tool}: invalid argument: {reason}");
    let mut result = CallToolResult::error(vec![ContentBlock::text(text.clone())]);
    result.structured_content =
        Some(json!({"error": {"kind": "invalid_argument", "message": text}}));
    Ok(result)
}

impl Tools {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Self {
            gateway,
            session_id: format!("rebound-mcp-{}", uuid::Uuid::new_v4()),
            tool_router: Self::restart_tools() + Self::admin_tools() + Self::fleet_tools(),
        }
    }

    fn failed(&self, tool: &str, error: &CallError) -> ToolResult {
        let text = format!("{tool}: {}", explain(self.gateway.addr(), error));
        let detail = match error {
            CallError::Rpc { method, status } => json!({
                "kind": "rpc", "rpc": method,
                "code": crate::proto::codes::code_name(status.code()), "message": status.message(),
            }),
            CallError::Unreachable { .. } => {
                json!({"kind": "unreachable", "message": error.to_string()})
            }
            CallError::BufferFull { .. } => {
                json!({"kind": "buffer_full", "message": error.to_string()})
            }
        };
        let mut result = CallToolResult::error(vec![ContentBlock::text(text.clone())]);
        result.structured_content = Some(json!({"error": detail, "explanation": text}));
        Ok(result)
    }

    /// The usual ending: text written from the response's JSON plus the JSON as structured
    /// content, or a tool error explaining the failure.
    fn reply<T: prost::Message>(
        &self,
        tool: &str,
        name: &str,
        result: Result<T, CallError>,
        text: impl FnOnce(&T, &Value) -> String,
    ) -> ToolResult {
        match result {
            Ok(response) => {
                let value = to_json(name, &response);
                ok(text(&response, &value), value)
            }
            Err(error) => self.failed(tool, &error),
        }
    }

    /// A section of a report that may be unavailable without failing the whole tool.
    fn section<T: prost::Message>(
        &self,
        name: &str,
        result: Result<T, CallError>,
    ) -> (Value, Result<Value, String>) {
        match result {
            Ok(response) => {
                let value = to_json(name, &response);
                (value.clone(), Ok(value))
            }
            Err(error) => {
                let text = explain(self.gateway.addr(), &error);
                (json!({"unavailable": text}), Err(text))
            }
        }
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "rebound-mcp",
    instructions = "Tools for a rebound control plane: server health, hot restart and its status, configuration validation and reload, device commands and rollouts, start-up recovery reports. While the rebound server restarts, calls are held and retried until the call deadline instead of failing."
)]
impl ServerHandler for Tools {}
