"""``ReboundClient``: a thin, typed wrapper over the generated stubs of the rebound v1 API.

Each helper builds the request message from keyword arguments (enums by name, durations in
seconds or ``timedelta``), calls one RPC and returns the response as a
:class:`rebound_client.reply.Reply`: the message's own fields, with enums as members that
print their names (``serving``, ``accepted``). It does not reinterpret results: see the
field comments in ``proto/rebound/v1``. Failed calls raise
:class:`rebound_client.errors.ReboundError`. The raw stubs stay available as attributes
(``client.health_stub`` ...), on the same channel, with the same token and retry policy.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Iterable, Iterator, List, Optional, Sequence, TypeVar, Union

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message

from ._channel import open_channel
from ._gen.rebound.v1 import client_command_pb2 as cmd_pb2
from ._gen.rebound.v1 import client_command_pb2_grpc as cmd_grpc
from ._gen.rebound.v1 import common_pb2, config_pb2, config_pb2_grpc, health_pb2
from ._gen.rebound.v1 import health_pb2_grpc, recovery_pb2, recovery_pb2_grpc
from ._gen.rebound.v1 import restart_pb2, restart_pb2_grpc
from .enums import prefix
from .errors import ReboundError
from .reply import Reply

Seconds = Union[int, float, datetime.timedelta]
EnumValue = Union[int, str]
#: A generated enum type (``common_pb2.Action``): ints at run time, a class to the stubs.
E = TypeVar("E", bound=int)

HEALTH = "rebound.v1.HealthService"
RESTART = "rebound.v1.RestartService"
CONFIG = "rebound.v1.ConfigService"
COMMANDS = "rebound.v1.ClientCommandService"
RECOVERY = "rebound.v1.RecoveryService"


def duration(value: Optional[Seconds]) -> Optional[duration_pb2.Duration]:
    """Seconds (int/float) or a timedelta as a Duration; None stays unset."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)
    result = duration_pb2.Duration()
    result.FromNanoseconds(round(seconds * 1e9))
    return result


def timestamp(value: Optional[datetime.datetime]) -> Optional[timestamp_pb2.Timestamp]:
    """A timezone-aware datetime as a Timestamp; None stays unset."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamp: use a timezone-aware datetime")
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(value)
    return result


def enum(wrapper: type[E], value: Optional[EnumValue]) -> E:
    """An enum value from its number or its name, with or without the type prefix and in any
    case: ``enum(common_pb2.Action, "reboot_host") == common_pb2.ACTION_REBOOT_HOST``."""
    descriptor = getattr(wrapper, "DESCRIPTOR")
    if value is None:
        number = 0
    elif isinstance(value, int):
        if value not in descriptor.values_by_number:
            raise ValueError(f"{value}: not a value of {descriptor.name}")
        number = value
    else:
        strip = prefix(descriptor)
        name = value.upper()
        name = name if name.startswith(strip) else strip + name
        if name not in descriptor.values_by_name:
            known = ", ".join(v.name[len(strip) :].lower() for v in descriptor.values[1:])
            raise ValueError(f"{value!r}: not one of {known}")
        number = descriptor.values_by_name[name].number
    # The generated stubs type enum values as instances of the wrapper class; they are ints.
    result: E = number  # type: ignore[assignment]
    return result


def enums(wrapper: type[E], values: Iterable[EnumValue]) -> List[E]:
    return [enum(wrapper, v) for v in values]


class ReboundClient:
    """A client for one rebound server.

    ``address``: ``host:port``, ``http://host:port``, ``https://host:port`` (TLS) or
    ``unix:PATH``. ``timeout``: per unary call, in seconds. The other keyword ``options`` are
    those of :func:`rebound_client._channel.open_channel`:

    - ``token``: bearer token sent as ``authorization: Bearer …`` (default: the
      ``REBOUND_TOKEN`` environment variable);
    - ``tls``, ``root_certificates``, ``client_certificate``, ``client_key`` (paths or PEM
      bytes), ``server_name``: TLS is on with ``https://``, ``tls=True`` or any certificate;
    - ``retry``: the gRPC retry policy on UNAVAILABLE, through the service config
      (``RetryPolicy()`` by default, ``None`` disables it);
    - ``options``: raw gRPC channel options.
    """

    def __init__(
        self, address: str = "127.0.0.1:50051", *, timeout: Optional[float] = 30.0, **options: Any
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.channel = open_channel(address, **options)
        self.health_stub = health_pb2_grpc.HealthServiceStub(self.channel)
        self.restart_stub = restart_pb2_grpc.RestartServiceStub(self.channel)
        self.config_stub = config_pb2_grpc.ConfigServiceStub(self.channel)
        self.commands_stub = cmd_grpc.ClientCommandServiceStub(self.channel)
        self.recovery_stub = recovery_pb2_grpc.RecoveryServiceStub(self.channel)
        self._stubs = {
            HEALTH: self.health_stub,
            RESTART: self.restart_stub,
            CONFIG: self.config_stub,
            COMMANDS: self.commands_stub,
            RECOVERY: self.recovery_stub,
        }

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "ReboundClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calling ------------------------------------------------------------------------

    def _unary(self, service: str, method: str, request: Message) -> Reply[Any]:
        try:
            return Reply(getattr(self._stubs[service], method)(request, timeout=self.timeout))
        except grpc.RpcError as error:
            raise ReboundError.from_rpc(f"/{service}/{method}", error, self.address) from None

    def _stream(self, service: str, method: str, request: Message) -> Iterator[Reply[Any]]:
        call = getattr(self._stubs[service], method)(request)
        try:
            for response in call:
                yield Reply(response)
        except grpc.RpcError as error:
            raise ReboundError.from_rpc(f"/{service}/{method}", error, self.address) from None
        finally:
            call.cancel()

    # -- HealthService ------------------------------------------------------------------

    def health(self) -> Reply[health_pb2.GetHealthResponse]:
        """The server's health report (status, components, version, pid, generation)."""
        return self._unary(HEALTH, "GetHealth", health_pb2.GetHealthRequest())

    # -- RestartService -----------------------------------------------------------------

    def restart(
        self,
        *,
        mode: Optional[EnumValue] = None,
        reason: Optional[EnumValue] = None,
        drain_timeout: Optional[Seconds] = None,
        preserve_state: Optional[bool] = None,
        binary: str = "",
    ) -> Reply[restart_pb2.RestartResponse]:
        """Start a hot restart (mode: handover, exec, auto; reason: e.g. manual_request).
        Not retried automatically. Follow it with :meth:`watch_restart`."""
        request = restart_pb2.RestartRequest(
            mode=enum(restart_pb2.RestartMode, mode),
            reason=enum(restart_pb2.RestartReason, reason),
            drain_timeout=duration(drain_timeout),
            binary=binary,
        )
        if preserve_state is not None:
            request.preserve_state = preserve_state
        return self._unary(RESTART, "Restart", request)

    def rolling_restart(
        self,
        *,
        mode: Optional[EnumValue] = None,
        reason: Optional[EnumValue] = None,
        drain_timeout: Optional[Seconds] = None,
        replica_timeout: Optional[Seconds] = None,
    ) -> Iterator[Reply[restart_pb2.RollingRestartResponse]]:
        """Hot-restart every replica of a cluster one at a time, the one at this address
        last (docs/cluster.md). Yields each step; the last (``RESTARTING_SELF``) carries the
        restart_id of this replica's own restart: follow it with :meth:`restart_status`.
        Not retried automatically."""
        request = restart_pb2.RollingRestartRequest(
            restart=restart_pb2.RestartRequest(
                mode=enum(restart_pb2.RestartMode, mode),
                reason=enum(restart_pb2.RestartReason, reason),
                drain_timeout=duration(drain_timeout),
            ),
            replica_timeout=duration(replica_timeout),
        )
        return self._stream(RESTART, "RollingRestart", request)

    def prepare_shutdown(
        self, *, mode: Optional[EnumValue] = None, binary: str = ""
    ) -> Reply[restart_pb2.PrepareShutdownResponse]:
        """Whether a restart could start now, and what blocks it."""
        request = restart_pb2.PrepareShutdownRequest(
            mode=enum(restart_pb2.RestartMode, mode), binary=binary
        )
        return self._unary(RESTART, "PrepareShutdown", request)

    def restart_status(self, restart_id: str = "") -> Reply[restart_pb2.GetRestartStatusResponse]:
        """A restart by id, or the running (else most recent) one."""
        request = restart_pb2.GetRestartStatusRequest(restart_id=restart_id)
        return self._unary(RESTART, "GetRestartStatus", request)

    def list_restart_events(
        self, *, page_size: int = 0, page_token: str = "", outcomes: Iterable[EnumValue] = ()
    ) -> Reply[restart_pb2.ListRestartEventsResponse]:
        request = restart_pb2.ListRestartEventsRequest(
            page_size=page_size,
            page_token=page_token,
            outcomes=enums(restart_pb2.RestartOutcome, outcomes),
        )
        return self._unary(RESTART, "ListRestartEvents", request)

    def watch_restart(
        self, restart_id: str = ""
    ) -> Iterator[Reply[restart_pb2.WatchRestartResponse]]:
        """Phase transitions of a restart (or of every restart when no id is given)."""
        request = restart_pb2.WatchRestartRequest(restart_id=restart_id)
        return self._stream(RESTART, "WatchRestart", request)

    def test_reconnect(
        self, *, session_id: str = "", timeout: Optional[Seconds] = None
    ) -> Reply[restart_pb2.TestReconnectResponse]:
        """Server self-test of a fresh connection, with reconnection statistics."""
        request = restart_pb2.TestReconnectRequest(
            session_id=session_id, timeout=duration(timeout)
        )
        return self._unary(RESTART, "TestReconnect", request)

    # -- ConfigService ------------------------------------------------------------------

    def get_config(self) -> Reply[config_pb2.GetConfigResponse]:
        return self._unary(CONFIG, "GetConfig", config_pb2.GetConfigRequest())

    def reload_config(
        self, *, content: Optional[str] = None, restart_if_required: bool = False
    ) -> Reply[config_pb2.ReloadResponse]:
        """Reload from the server's file, or from inline TOML ``content``. The RPC succeeds
        whenever a reload was attempted: check ``response.event.result``. Not retried."""
        request = config_pb2.ReloadRequest(restart_if_required=restart_if_required)
        if content is not None:
            request.content = content
        return self._unary(CONFIG, "Reload", request)

    def validate_config(
        self, *, path: Optional[str] = None, content: Optional[str] = None
    ) -> Reply[config_pb2.ValidateResponse]:
        """Dry-run a candidate: a file on the server host (absolute path), inline TOML, or
        (neither) the server's own file."""
        if path is not None and content is not None:
            raise ValueError("validate_config: give path or content, not both")
        if path is not None:
            request = config_pb2.ValidateRequest(path=path)
        elif content is not None:
            request = config_pb2.ValidateRequest(content=content)
        else:
            request = config_pb2.ValidateRequest()
        return self._unary(CONFIG, "Validate", request)

    def list_reload_events(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        results: Iterable[EnumValue] = (),
        trigger: Optional[EnumValue] = None,
    ) -> Reply[config_pb2.ListReloadEventsResponse]:
        request = config_pb2.ListReloadEventsRequest(
            page_size=page_size,
            page_token=page_token,
            results=enums(config_pb2.ReloadResult, results),
            trigger=enum(config_pb2.ReloadTrigger, trigger),
        )
        return self._unary(CONFIG, "ListReloadEvents", request)

    def reload_stats(
        self, *, since: Optional[datetime.datetime] = None
    ) -> Reply[config_pb2.GetReloadStatsResponse]:
        request = config_pb2.GetReloadStatsRequest(since=timestamp(since))
        return self._unary(CONFIG, "GetReloadStats", request)

    def watch_config(
        self, *, results: Iterable[EnumValue] = (), include_current: bool = False
    ) -> Iterator[Reply[config_pb2.WatchConfigResponse]]:
        request = config_pb2.WatchConfigRequest(
            results=enums(config_pb2.ReloadResult, results), include_current=include_current
        )
        return self._stream(CONFIG, "WatchConfig", request)

    # -- ClientCommandService: commands -------------------------------------------------

    def issue_command(
        self,
        client_uuid: str,
        action: EnumValue,
        *,
        reason: Optional[str] = None,
        requested_by: Optional[int] = None,
        expires_in: Optional[Seconds] = None,
        command_id: Optional[str] = None,
    ) -> Reply[cmd_pb2.IssueCommandResponse]:
        """Issue ``action`` (reboot_host, shutdown_host, restart_app) to one device. A
        command_id is generated here when none is given, so retries stay idempotent; it is
        in ``response.command.command_id``."""
        request = cmd_pb2.IssueCommandRequest(
            command_id=command_id or str(uuid.uuid4()),
            client_uuid=client_uuid,
            action=enum(common_pb2.Action, action),
            reason=reason,
            requested_by=requested_by,
            expires_in=duration(expires_in),
        )
        return self._unary(COMMANDS, "IssueCommand", request)

    def get_command(self, command_id: str) -> Reply[cmd_pb2.GetCommandResponse]:
        request = cmd_pb2.GetCommandRequest(command_id=command_id)
        return self._unary(COMMANDS, "GetCommand", request)

    def list_commands(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        client_uuid: str = "",
        states: Iterable[EnumValue] = (),
        action: Optional[EnumValue] = None,
        rollout_id: str = "",
        origin: Optional[EnumValue] = None,
        include_events: bool = False,
    ) -> Reply[cmd_pb2.ListCommandsResponse]:
        request = cmd_pb2.ListCommandsRequest(
            page_size=page_size,
            page_token=page_token,
            client_uuid=client_uuid,
            states=enums(cmd_pb2.CommandState, states),
            action=enum(common_pb2.Action, action),
            rollout_id=rollout_id,
            origin=enum(cmd_pb2.CommandOrigin, origin),
            include_events=include_events,
        )
        return self._unary(COMMANDS, "ListCommands", request)

    def cancel_command(
        self, command_id: str, *, reason: str = ""
    ) -> Reply[cmd_pb2.CancelCommandResponse]:
        request = cmd_pb2.CancelCommandRequest(command_id=command_id, reason=reason)
        return self._unary(COMMANDS, "CancelCommand", request)

    def watch_commands(
        self,
        *,
        command_id: str = "",
        client_uuid: str = "",
        states: Iterable[EnumValue] = (),
        action: Optional[EnumValue] = None,
        rollout_id: str = "",
        include_current: bool = False,
        include_events: bool = False,
    ) -> Iterator[Reply[cmd_pb2.WatchCommandsResponse]]:
        """Command state transitions matching the filters, as they are stored."""
        request = cmd_pb2.WatchCommandsRequest(
            command_id=command_id,
            client_uuid=client_uuid,
            states=enums(cmd_pb2.CommandState, states),
            action=enum(common_pb2.Action, action),
            rollout_id=rollout_id,
            include_current=include_current,
            include_events=include_events,
        )
        return self._stream(COMMANDS, "WatchCommands", request)

    # -- ClientCommandService: devices --------------------------------------------------

    def list_clients(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        group: str = "",
        presence: Optional[EnumValue] = None,
        needs_attention: Optional[bool] = None,
        service_failed: Optional[bool] = None,
        capability_tier: Optional[EnumValue] = None,
        crash_state: Optional[EnumValue] = None,
    ) -> Reply[cmd_pb2.ListClientsResponse]:
        request = cmd_pb2.ListClientsRequest(
            page_size=page_size,
            page_token=page_token,
            group=group,
            presence=enum(cmd_pb2.Presence, presence),
            needs_attention=needs_attention,
            service_failed=service_failed,
            capability_tier=enum(cmd_pb2.CapabilityTier, capability_tier),
            crash_state=enum(cmd_pb2.CrashState, crash_state),
        )
        return self._unary(COMMANDS, "ListClients", request)

    def get_client(self, client_uuid: str) -> Reply[cmd_pb2.GetClientResponse]:
        request = cmd_pb2.GetClientRequest(client_uuid=client_uuid)
        return self._unary(COMMANDS, "GetClient", request)

    def update_client(
        self,
        client_uuid: str,
        *,
        group: Optional[str] = None,
        capability_tier: Optional[EnumValue] = None,
    ) -> Reply[cmd_pb2.UpdateClientResponse]:
        """Set a device's group ("" removes it) and/or capability tier; None: unchanged."""
        request = cmd_pb2.UpdateClientRequest(
            client_uuid=client_uuid,
            group=group,
            capability_tier=enum(cmd_pb2.CapabilityTier, capability_tier),
        )
        return self._unary(COMMANDS, "UpdateClient", request)

    def clear_service_failed(self, client_uuid: str) -> Reply[cmd_pb2.ClearServiceFailedResponse]:
        request = cmd_pb2.ClearServiceFailedRequest(client_uuid=client_uuid)
        return self._unary(COMMANDS, "ClearServiceFailed", request)

    # -- ClientCommandService: rollouts -------------------------------------------------

    def start_rollout(
        self,
        action: EnumValue,
        *,
        client_uuids: Optional[Sequence[str]] = None,
        group: Optional[str] = None,
        all_clients: bool = False,
        canary_count: Optional[int] = None,
        canary_percent: Optional[int] = None,
        max_per_minute: int = 0,
        abort_failure_percent: Optional[float] = None,
        min_finished: Optional[int] = None,
        reason: Optional[str] = None,
        requested_by: Optional[int] = None,
        expires_in: Optional[Seconds] = None,
        rollout_id: Optional[str] = None,
    ) -> Reply[cmd_pb2.StartRolloutResponse]:
        """Start a rollout of ``action`` to exactly one target: ``client_uuids``, ``group``
        or ``all_clients=True``. A rollout_id is generated here when none is given."""
        targets = [client_uuids is not None, group is not None, all_clients]
        if sum(targets) != 1:
            raise ValueError("start_rollout: give exactly one of client_uuids, group, all_clients")
        if canary_count is not None and canary_percent is not None:
            raise ValueError("start_rollout: give canary_count or canary_percent, not both")
        if client_uuids is not None:
            target = cmd_pb2.RolloutTarget(
                clients=cmd_pb2.ClientUuidList(client_uuids=list(client_uuids))
            )
        elif group is not None:
            target = cmd_pb2.RolloutTarget(group=group)
        else:
            target = cmd_pb2.RolloutTarget(all_clients=True)
        request = cmd_pb2.StartRolloutRequest(
            rollout_id=rollout_id or str(uuid.uuid4()),
            action=enum(common_pb2.Action, action),
            target=target,
            canary_count=canary_count,
            canary_percent=canary_percent,
            max_per_minute=max_per_minute,
            abort_failure_percent=abort_failure_percent,
            min_finished=min_finished,
            reason=reason,
            requested_by=requested_by,
            expires_in=duration(expires_in),
        )
        return self._unary(COMMANDS, "StartRollout", request)

    def get_rollout(self, rollout_id: str) -> Reply[cmd_pb2.GetRolloutResponse]:
        request = cmd_pb2.GetRolloutRequest(rollout_id=rollout_id)
        return self._unary(COMMANDS, "GetRollout", request)

    def list_rollouts(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        states: Iterable[EnumValue] = (),
        action: Optional[EnumValue] = None,
    ) -> Reply[cmd_pb2.ListRolloutsResponse]:
        request = cmd_pb2.ListRolloutsRequest(
            page_size=page_size,
            page_token=page_token,
            states=enums(cmd_pb2.RolloutState, states),
            action=enum(common_pb2.Action, action),
        )
        return self._unary(COMMANDS, "ListRollouts", request)

    def abort_rollout(
        self, rollout_id: str, *, reason: str = ""
    ) -> Reply[cmd_pb2.AbortRolloutResponse]:
        request = cmd_pb2.AbortRolloutRequest(rollout_id=rollout_id, reason=reason)
        return self._unary(COMMANDS, "AbortRollout", request)

    def watch_rollout(self, rollout_id: str) -> Iterator[Reply[cmd_pb2.WatchRolloutResponse]]:
        request = cmd_pb2.WatchRolloutRequest(rollout_id=rollout_id)
        return self._stream(COMMANDS, "WatchRollout", request)

    # -- RecoveryService ----------------------------------------------------------------

    def recovery_report(self, report_id: str = "") -> Reply[recovery_pb2.GetRecoveryReportResponse]:
        """A startup recovery report by id, or the latest (the running process's)."""
        request = recovery_pb2.GetRecoveryReportRequest(report_id=report_id)
        return self._unary(RECOVERY, "GetRecoveryReport", request)

    def list_recovery_reports(
        self, *, page_size: int = 0, page_token: str = "", previous_run: Optional[EnumValue] = None
    ) -> Reply[recovery_pb2.ListRecoveryReportsResponse]:
        request = recovery_pb2.ListRecoveryReportsRequest(
            page_size=page_size,
            page_token=page_token,
            previous_run=enum(recovery_pb2.PreviousRun, previous_run),
        )
        return self._unary(RECOVERY, "ListRecoveryReports", request)

    def run_cleanup(
        self, *, dry_run: bool = False, retention: Optional[Seconds] = None
    ) -> Reply[recovery_pb2.RunCleanupResponse]:
        request = recovery_pb2.RunCleanupRequest(dry_run=dry_run, retention=duration(retention))
        return self._unary(RECOVERY, "RunCleanup", request)

    def backup(self, path: str) -> Reply[recovery_pb2.BackupResponse]:
        """Online copy of the database to ``path`` on the server host (must not exist)."""
        return self._unary(RECOVERY, "Backup", recovery_pb2.BackupRequest(path=path))

    def list_audit_events(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        principal: str = "",
        rpc: str = "",
        since: Optional[datetime.datetime] = None,
        until: Optional[datetime.datetime] = None,
        outcome: Optional[EnumValue] = None,
    ) -> Reply[recovery_pb2.ListAuditEventsResponse]:
        request = recovery_pb2.ListAuditEventsRequest(
            page_size=page_size,
            page_token=page_token,
            principal=principal,
            rpc=rpc,
            since=timestamp(since),
            until=timestamp(until),
            outcome=enum(recovery_pb2.AuditOutcome, outcome),
        )
        return self._unary(RECOVERY, "ListAuditEvents", request)
