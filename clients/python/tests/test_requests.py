"""Every helper builds the right request and calls the right RPC, checked on the wire by
the recording gRPC server (including arguments a server without devices cannot exercise)."""

import datetime
import uuid

import pytest

from rebound_client import ReboundClient
from rebound_client.client import duration, enum
from rebound_client.pb import client_command_pb2 as cmd
from rebound_client.pb import common_pb2, config_pb2, recovery_pb2, restart_pb2

DEVICE = "0b9e6a4e-6f2a-4f7e-9a57-3f1d2c0f5a11"


@pytest.fixture
def call(recorder):
    client = ReboundClient(recorder.address)

    def call(helper, *args, **kwargs):
        result = getattr(client, helper)(*args, **kwargs)
        if not hasattr(result, "DESCRIPTOR"):
            result = list(result)  # a stream: drain it
        return recorder.only_call()

    yield call
    client.close()


def test_restart(call):
    got = call("restart", mode="handover", reason="schema_migration", drain_timeout=45,
               preserve_state=False, binary="/opt/rebound/bin/rebound")
    assert got.method == "/rebound.v1.RestartService/Restart"
    assert got.request == restart_pb2.RestartRequest(
        mode=restart_pb2.RESTART_MODE_HANDOVER,
        reason=restart_pb2.RESTART_REASON_SCHEMA_MIGRATION,
        drain_timeout=duration(45),
        preserve_state=False,
        binary="/opt/rebound/bin/rebound",
    )
    assert got.request.HasField("preserve_state")


def test_restart_defaults_leave_fields_unset(call):
    got = call("restart")
    assert got.request == restart_pb2.RestartRequest()
    assert not got.request.HasField("preserve_state")
    assert not got.request.HasField("drain_timeout")


@pytest.mark.parametrize(
    "helper,kwargs,method,expected",
    [
        ("prepare_shutdown", {"mode": "exec"}, "RestartService/PrepareShutdown",
         restart_pb2.PrepareShutdownRequest(mode=restart_pb2.RESTART_MODE_EXEC)),
        ("restart_status", {"restart_id": "r1"}, "RestartService/GetRestartStatus",
         restart_pb2.GetRestartStatusRequest(restart_id="r1")),
        ("list_restart_events", {"page_size": 10, "outcomes": ["rolled_back"]},
         "RestartService/ListRestartEvents",
         restart_pb2.ListRestartEventsRequest(
             page_size=10, outcomes=[restart_pb2.RESTART_OUTCOME_ROLLED_BACK])),
        ("watch_restart", {"restart_id": "r2"}, "RestartService/WatchRestart",
         restart_pb2.WatchRestartRequest(restart_id="r2")),
        ("test_reconnect", {"session_id": "s-1", "timeout": datetime.timedelta(seconds=2)},
         "RestartService/TestReconnect",
         restart_pb2.TestReconnectRequest(session_id="s-1", timeout=duration(2))),
        ("get_config", {}, "ConfigService/GetConfig", config_pb2.GetConfigRequest()),
        ("reload_config", {"content": "version = 1\n"}, "ConfigService/Reload",
         config_pb2.ReloadRequest(content="version = 1\n")),
        ("reload_config", {"restart_if_required": True}, "ConfigService/Reload",
         config_pb2.ReloadRequest(restart_if_required=True)),
        ("validate_config", {"path": "/etc/rebound.toml"}, "ConfigService/Validate",
         config_pb2.ValidateRequest(path="/etc/rebound.toml")),
        ("validate_config", {"content": "x"}, "ConfigService/Validate",
         config_pb2.ValidateRequest(content="x")),
        ("list_reload_events", {"results": ["success"], "trigger": "signal"},
         "ConfigService/ListReloadEvents",
         config_pb2.ListReloadEventsRequest(
             results=[config_pb2.RELOAD_RESULT_SUCCESS], trigger=config_pb2.RELOAD_TRIGGER_SIGNAL)),
        ("reload_stats", {"since": datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)},
         "ConfigService/GetReloadStats",
         config_pb2.GetReloadStatsRequest(since={"seconds": 1767312000})),
        ("watch_config", {"include_current": True}, "ConfigService/WatchConfig",
         config_pb2.WatchConfigRequest(include_current=True)),
        ("get_command", {"command_id": "c1"}, "ClientCommandService/GetCommand",
         cmd.GetCommandRequest(command_id="c1")),
        ("list_commands", {"client_uuid": DEVICE, "states": ["queued", "COMMAND_STATE_FAILED"],
                           "action": "restart_app", "include_events": True},
         "ClientCommandService/ListCommands",
         cmd.ListCommandsRequest(client_uuid=DEVICE, states=[1, 6],
                                 action=common_pb2.ACTION_RESTART_APP, include_events=True)),
        ("cancel_command", {"command_id": "c1", "reason": "oops"},
         "ClientCommandService/CancelCommand", cmd.CancelCommandRequest(command_id="c1", reason="oops")),
        ("watch_commands", {"command_id": "c1", "include_current": True},
         "ClientCommandService/WatchCommands",
         cmd.WatchCommandsRequest(command_id="c1", include_current=True)),
        ("list_clients", {"group": "lab", "needs_attention": False, "presence": "online"},
         "ClientCommandService/ListClients",
         cmd.ListClientsRequest(group="lab", needs_attention=False, presence=cmd.PRESENCE_ONLINE)),
        ("get_client", {"client_uuid": DEVICE}, "ClientCommandService/GetClient",
         cmd.GetClientRequest(client_uuid=DEVICE)),
        ("update_client", {"client_uuid": DEVICE, "group": ""}, "ClientCommandService/UpdateClient",
         cmd.UpdateClientRequest(client_uuid=DEVICE, group="")),
        ("clear_service_failed", {"client_uuid": DEVICE}, "ClientCommandService/ClearServiceFailed",
         cmd.ClearServiceFailedRequest(client_uuid=DEVICE)),
        ("get_rollout", {"rollout_id": "r"}, "ClientCommandService/GetRollout",
         cmd.GetRolloutRequest(rollout_id="r")),
        ("list_rollouts", {"states": ["waves"]}, "ClientCommandService/ListRollouts",
         cmd.ListRolloutsRequest(states=[cmd.ROLLOUT_STATE_WAVES])),
        ("abort_rollout", {"rollout_id": "r", "reason": "bad"}, "ClientCommandService/AbortRollout",
         cmd.AbortRolloutRequest(rollout_id="r", reason="bad")),
        ("watch_rollout", {"rollout_id": "r"}, "ClientCommandService/WatchRollout",
         cmd.WatchRolloutRequest(rollout_id="r")),
        ("recovery_report", {}, "RecoveryService/GetRecoveryReport",
         recovery_pb2.GetRecoveryReportRequest()),
        ("list_recovery_reports", {"previous_run": "crashed"}, "RecoveryService/ListRecoveryReports",
         recovery_pb2.ListRecoveryReportsRequest(previous_run=recovery_pb2.PREVIOUS_RUN_CRASHED)),
        ("run_cleanup", {"dry_run": True, "retention": 3600}, "RecoveryService/RunCleanup",
         recovery_pb2.RunCleanupRequest(dry_run=True, retention=duration(3600))),
        ("backup", {"path": "/var/backups/r.db"}, "RecoveryService/Backup",
         recovery_pb2.BackupRequest(path="/var/backups/r.db")),
        ("list_audit_events", {"rpc": "/rebound.v1.RestartService/", "outcome": "denied"},
         "RecoveryService/ListAuditEvents",
         recovery_pb2.ListAuditEventsRequest(rpc="/rebound.v1.RestartService/",
                                             outcome=recovery_pb2.AUDIT_OUTCOME_DENIED)),
    ],
)
def test_helper_request(call, helper, kwargs, method, expected):
    got = call(helper, **kwargs)
    assert got.method == f"/rebound.v1.{method}"
    assert got.request == expected


def test_optional_fields_stay_unset(call):
    assert not call("reload_config").request.HasField("content")


def test_update_client_group_unset_vs_empty(recorder):
    with ReboundClient(recorder.address) as client:
        client.update_client(DEVICE, capability_tier="managed_power")
        client.update_client(DEVICE, group="")
    first, second = (c.request for c in recorder.calls)
    assert not first.HasField("group") and first.capability_tier == cmd.CAPABILITY_TIER_MANAGED_POWER
    assert second.HasField("group") and second.group == ""


def test_issue_command_generates_an_idempotency_key(call):
    got = call("issue_command", DEVICE, "reboot_host", reason="kernel update",
               requested_by=7, expires_in=datetime.timedelta(minutes=5))
    assert got.method == "/rebound.v1.ClientCommandService/IssueCommand"
    request = got.request
    assert uuid.UUID(request.command_id)
    assert request == cmd.IssueCommandRequest(
        command_id=request.command_id, client_uuid=DEVICE, action=common_pb2.ACTION_REBOOT_HOST,
        reason="kernel update", requested_by=7, expires_in=duration(300))


def test_issue_command_keeps_a_given_id_and_unset_optionals(call):
    request = call("issue_command", DEVICE, common_pb2.ACTION_SHUTDOWN_HOST, command_id="c-9").request
    assert request.command_id == "c-9" and request.action == common_pb2.ACTION_SHUTDOWN_HOST
    assert not request.HasField("reason") and not request.HasField("requested_by")
    assert not request.HasField("expires_in")


def test_start_rollout_to_a_group_with_a_canary_percentage(call):
    request = call("start_rollout", "restart_app", group="lab", canary_percent=10,
                   max_per_minute=30, abort_failure_percent=2.5, min_finished=4).request
    assert uuid.UUID(request.rollout_id)
    assert request.target.WhichOneof("target") == "group" and request.target.group == "lab"
    assert request.WhichOneof("canary") == "canary_percent" and request.canary_percent == 10
    assert (request.max_per_minute, request.abort_failure_percent, request.min_finished) == (30, 2.5, 4)
    assert not request.HasField("reason")


def test_start_rollout_targets(call, recorder):
    request = call("start_rollout", "reboot_host", client_uuids=[DEVICE], canary_count=0).request
    assert list(request.target.clients.client_uuids) == [DEVICE]
    assert request.WhichOneof("canary") == "canary_count" and request.canary_count == 0
    with ReboundClient(recorder.address) as client:
        client.start_rollout("reboot_host", all_clients=True)
        assert recorder.calls[-1].request.target.all_clients is True
        with pytest.raises(ValueError, match="exactly one"):
            client.start_rollout("reboot_host", group="a", all_clients=True)
        with pytest.raises(ValueError, match="not both"):
            client.start_rollout("reboot_host", group="a", canary_count=1, canary_percent=5)


def test_bad_arguments_fail_before_any_call(recorder):
    with ReboundClient(recorder.address) as client:
        with pytest.raises(ValueError, match="not one of reboot_host, shutdown_host, restart_app"):
            client.issue_command(DEVICE, "explode")
        with pytest.raises(ValueError, match="not both"):
            client.validate_config(path="/a", content="b")
        with pytest.raises(ValueError, match="timezone-aware"):
            client.reload_stats(since=datetime.datetime(2026, 1, 1))
    assert recorder.calls == []


def test_enum_accepts_numbers_and_names():
    assert enum(common_pb2.Action, 2) == enum(common_pb2.Action, "SHUTDOWN_HOST") == 2
    assert enum(common_pb2.Action, None) == 0
    with pytest.raises(ValueError):
        enum(common_pb2.Action, 99)
