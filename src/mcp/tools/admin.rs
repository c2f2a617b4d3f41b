//! Tools for configuration (ConfigService: validate, reload) and start-up recovery reports
//! (RecoveryService).

use super::{ToolResult, Tools, invalid};
use crate::mcp::params::{ConfigReload, ConfigValidate, RecoveryReport};
use crate::mcp::render;
use crate::mcp::schema;
use crate::proto::v1 as pb;
use crate::proto::v1::config_service_client::ConfigServiceClient;
use crate::proto::v1::recovery_service_client::RecoveryServiceClient;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

#[tool_router(router = admin_tools, vis = "pub(super)")]
impl Tools {
    #[tool(
        name = "config_validate",
        input_schema = schema::input::<ConfigValidate>(),
        output_schema = schema::response("ValidateResponse"),
        description = "Dry-run a configuration without applying it: parse, validate (every problem with its key path and line) and diff against the running configuration, saying which changes need a restart. Give a file path on the server host, inline TOML, or neither for the server's own file.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn config_validate(&self, Parameters(args): Parameters<ConfigValidate>) -> ToolResult {
        const TOOL: &str = "config_validate";
        let request = match args.request() {
            Ok(request) => request,
            Err(reason) => return invalid(TOOL, reason),
        };
        let result = rpc!(
            self.gateway,
            ConfigServiceClient::validate,
            "/rebound.v1.ConfigService/Validate",
            request
        )
        .await;
        self.reply(TOOL, "ValidateResponse", result, |_, value| render::validation(value))
    }

    #[tool(
        name = "config_reload",
        input_schema = schema::input::<ConfigReload>(),
        output_schema = schema::response("ReloadResponse"),
        description = "Reload the server's configuration without a restart, from its file or from inline TOML: validated first, applied atomically, rolled back if any part fails, and recorded. The result says what happened (success, unchanged, validation failed, restart required, rolled back).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn config_reload(&self, Parameters(args): Parameters<ConfigReload>) -> ToolResult {
        const TOOL: &str = "config_reload";
        let result = rpc!(
            self.gateway,
            ConfigServiceClient::reload,
            "/rebound.v1.ConfigService/Reload",
            args.request()
        )
        .await;
        self.reply(TOOL, "ReloadResponse", result, |_, value| render::reload(&value["event"]))
    }

    #[tool(
        name = "recovery_report",
        input_schema = schema::input::<RecoveryReport>(),
        output_schema = schema::response("GetRecoveryReportResponse"),
        description = "What start-up recovery found and did when the server last started (or for a given report): how the previous run ended, commands expired, timed out or re-armed, rollouts resumed, interrupted restarts, snapshot consistency.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn recovery_report(&self, Parameters(args): Parameters<RecoveryReport>) -> ToolResult {
        const TOOL: &str = "recovery_report";
        let request =
            pb::GetRecoveryReportRequest { report_id: args.report_id.unwrap_or_default() };
        let result = rpc!(
            self.gateway,
            RecoveryServiceClient::get_recovery_report,
            "/rebound.v1.RecoveryService/GetRecoveryReport",
            request
        )
        .await;
        self.reply(TOOL, "GetRecoveryReportResponse", result, |_, value| {
            render::recovery(&value["report"])
        })
    }
}
