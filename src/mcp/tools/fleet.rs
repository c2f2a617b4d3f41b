//! Tools for the device fleet (ClientCommandService): devices, commands and rollouts.

use super::{ToolResult, Tools, invalid};
use crate::mcp::params::{
    ClientsCount, ClientsList, CommandIssue, CommandStatus, RolloutStart, RolloutStatus,
};
use crate::mcp::render;
use crate::mcp::schema;
use crate::proto::v1 as pb;
use crate::proto::v1::client_command_service_client::ClientCommandServiceClient;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

#[tool_router(router = fleet_tools, vis = "pub(super)")]
impl Tools {
    #[tool(
        name = "clients_list",
        input_schema = schema::input::<ClientsList>(),
        output_schema = schema::response("ListClientsResponse"),
        description = "List registered devices (by UUID) with presence, process and crash state, and whether they need attention; filter by group, presence or needs_attention; paginated.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn clients_list(&self, Parameters(args): Parameters<ClientsList>) -> ToolResult {
        const TOOL: &str = "clients_list";
        let request = match args.request() {
            Ok(request) => request,
            Err(reason) => return invalid(TOOL, reason),
        };
        let result = rpc!(
            self.gateway,
            ClientCommandServiceClient::list_clients,
            "/rebound.v1.ClientCommandService/ListClients",
            request
        )
        .await;
        self.reply(TOOL, "ListClientsResponse", result, |_, value| render::clients(value))
    }

    #[tool(
        name = "clients_count",
        input_schema = schema::input::<ClientsCount>(),
        output_schema = schema::response("CountClientsResponse"),
        description = "Count devices (all, or one group or UUID prefix): the total, online, offline, crashed and with a failed service, in one call. Counts are at most a second old.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn clients_count(&self, Parameters(args): Parameters<ClientsCount>) -> ToolResult {
        const TOOL: &str = "clients_count";
        let result = rpc!(
            self.gateway,
            ClientCommandServiceClient::count_clients,
            "/rebound.v1.ClientCommandService/CountClients",
            args.request()
        )
        .await;
        self.reply(TOOL, "CountClientsResponse", result, |_, value| render::client_counts(value))
    }

    #[tool(
        name = "command_issue",
        input_schema = schema::input::<CommandIssue>(),
        output_schema = schema::response("IssueCommandResponse"),
        description = "Send a disruptive command (reboot_host, shutdown_host, restart_app) to one device. Tracked through queued, published, accepted, execution_started to a terminal state; refused with RESOURCE_EXHAUSTED by the per-device safety lockout (3 per 15 minutes by default). Idempotent on command_id. Follow it with command_status.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn command_issue(&self, Parameters(args): Parameters<CommandIssue>) -> ToolResult {
        const TOOL: &str = "command_issue";
        let request = match args.request() {
            Ok(request) => request,
            Err(reason) => return invalid(TOOL, reason),
        };
        let result = rpc!(
            self.gateway,
            ClientCommandServiceClient::issue_command,
            "/rebound.v1.ClientCommandService/IssueCommand",
            request
        )
        .await;
        self.reply(TOOL, "IssueCommandResponse", result, |response, value| {
            let created = if response.created {
                "issued"
            } else {
                "already existed (same id and parameters)"
            };
            format!("command {created}\n{}", render::command(&value["command"]))
        })
    }

    #[tool(
        name = "command_status",
        input_schema = schema::input::<CommandStatus>(),
        output_schema = schema::response("GetCommandResponse"),
        description = "One device command with its state, error (if any) and full event history.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn command_status(&self, Parameters(args): Parameters<CommandStatus>) -> ToolResult {
        const TOOL: &str = "command_status";
        let request = pb::GetCommandRequest { command_id: args.command_id };
        let result = rpc!(
            self.gateway,
            ClientCommandServiceClient::get_command,
            "/rebound.v1.ClientCommandService/GetCommand",
            request
        )
        .await;
        self.reply(TOOL, "GetCommandResponse", result, |_, value| {
            render::command(&value["command"])
        })
    }

    #[tool(
        name = "rollout_start",
        input_schema = schema::input::<RolloutStart>(),
        output_schema = schema::response("StartRolloutResponse"),
        description = "Start a rollout of one action to many devices (a list, a group or all): a canary group first, then waves at most max_per_minute, aborted automatically when the failure rate passes abort_failure_percent. Idempotent on rollout_id. Follow it with rollout_status.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn rollout_start(&self, Parameters(args): Parameters<RolloutStart>) -> ToolResult {
        const TOOL: &str = "rollout_start";
        let request = match args.request() {
            Ok(request) => request,
            Err(reason) => return invalid(TOOL, reason),
        };
        let result = rpc!(
            self.gateway,
            ClientCommandServiceClient::start_rollout,
            "/rebound.v1.ClientCommandService/StartRollout",
            request
        )
        .await;
        self.reply(TOOL, "StartRolloutResponse", result, |response, value| {
            let created = if response.created {
                "started"
            } else {
                "already existed (same id and parameters)"
            };
            format!("rollout {created}\n{}", render::rollout(&value["rollout"]))
        })
    }

    #[tool(
        name = "rollout_status",
        input_schema = schema::input::<RolloutStatus>(),
        output_schema = schema::response("GetRolloutResponse"),
        description = "One rollout with its state and per-target counters (pending, in flight, completed, failed, ...) and failure rate.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn rollout_status(&self, Parameters(args): Parameters<RolloutStatus>) -> ToolResult {
        const TOOL: &str = "rollout_status";
        let request = pb::GetRolloutRequest { rollout_id: args.rollout_id };
        let result = rpc!(
            self.gateway,
            ClientCommandServiceClient::get_rollout,
            "/rebound.v1.ClientCommandService/GetRollout",
            request
        )
        .await;
        self.reply(TOOL, "GetRolloutResponse", result, |_, value| {
            render::rollout(&value["rollout"])
        })
    }
}
