import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rebound_client._gen.rebound.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RestartMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTART_MODE_UNSPECIFIED: _ClassVar[RestartMode]
    RESTART_MODE_HANDOVER: _ClassVar[RestartMode]
    RESTART_MODE_EXEC: _ClassVar[RestartMode]
    RESTART_MODE_AUTO: _ClassVar[RestartMode]

class RestartReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTART_REASON_UNSPECIFIED: _ClassVar[RestartReason]
    RESTART_REASON_CONFIGURATION_UPDATE: _ClassVar[RestartReason]
    RESTART_REASON_SCHEMA_MIGRATION: _ClassVar[RestartReason]
    RESTART_REASON_ERROR_RECOVERY: _ClassVar[RestartReason]
    RESTART_REASON_MANUAL_REQUEST: _ClassVar[RestartReason]
    RESTART_REASON_EMERGENCY_SHUTDOWN: _ClassVar[RestartReason]
    RESTART_REASON_BINARY_UPGRADE: _ClassVar[RestartReason]

class RestartPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTART_PHASE_UNSPECIFIED: _ClassVar[RestartPhase]
    RESTART_PHASE_PREPARING: _ClassVar[RestartPhase]
    RESTART_PHASE_SUSPENDING_TASKS: _ClassVar[RestartPhase]
    RESTART_PHASE_SERIALIZING_STATE: _ClassVar[RestartPhase]
    RESTART_PHASE_STARTING_SUCCESSOR: _ClassVar[RestartPhase]
    RESTART_PHASE_CLOSING_CONNECTIONS: _ClassVar[RestartPhase]
    RESTART_PHASE_FINALIZING: _ClassVar[RestartPhase]
    RESTART_PHASE_COMPLETE: _ClassVar[RestartPhase]
    RESTART_PHASE_FAILED: _ClassVar[RestartPhase]
    RESTART_PHASE_ROLLED_BACK: _ClassVar[RestartPhase]

class RestartOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTART_OUTCOME_UNSPECIFIED: _ClassVar[RestartOutcome]
    RESTART_OUTCOME_SUCCEEDED: _ClassVar[RestartOutcome]
    RESTART_OUTCOME_FAILED: _ClassVar[RestartOutcome]
    RESTART_OUTCOME_ROLLED_BACK: _ClassVar[RestartOutcome]
    RESTART_OUTCOME_INTERRUPTED: _ClassVar[RestartOutcome]

class BlockingIssueCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BLOCKING_ISSUE_CODE_UNSPECIFIED: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_RESTART_IN_PROGRESS: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_SHUTTING_DOWN: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_SUCCESSOR_BINARY_MISSING: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_SUCCESSOR_BINARY_NOT_EXECUTABLE: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_RELOAD_IN_PROGRESS: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_STORE_UNHEALTHY: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_SNAPSHOT_UNWRITABLE: _ClassVar[BlockingIssueCode]
    BLOCKING_ISSUE_CODE_LISTENERS_NOT_INHERITABLE: _ClassVar[BlockingIssueCode]

class RollingRestartStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLING_RESTART_STEP_UNSPECIFIED: _ClassVar[RollingRestartStep]
    ROLLING_RESTART_STEP_PLANNED: _ClassVar[RollingRestartStep]
    ROLLING_RESTART_STEP_RESTARTING: _ClassVar[RollingRestartStep]
    ROLLING_RESTART_STEP_SERVING: _ClassVar[RollingRestartStep]
    ROLLING_RESTART_STEP_RESTARTING_SELF: _ClassVar[RollingRestartStep]
RESTART_MODE_UNSPECIFIED: RestartMode
RESTART_MODE_HANDOVER: RestartMode
RESTART_MODE_EXEC: RestartMode
RESTART_MODE_AUTO: RestartMode
RESTART_REASON_UNSPECIFIED: RestartReason
RESTART_REASON_CONFIGURATION_UPDATE: RestartReason
RESTART_REASON_SCHEMA_MIGRATION: RestartReason
RESTART_REASON_ERROR_RECOVERY: RestartReason
RESTART_REASON_MANUAL_REQUEST: RestartReason
RESTART_REASON_EMERGENCY_SHUTDOWN: RestartReason
RESTART_REASON_BINARY_UPGRADE: RestartReason
RESTART_PHASE_UNSPECIFIED: RestartPhase
RESTART_PHASE_PREPARING: RestartPhase
RESTART_PHASE_SUSPENDING_TASKS: RestartPhase
RESTART_PHASE_SERIALIZING_STATE: RestartPhase
RESTART_PHASE_STARTING_SUCCESSOR: RestartPhase
RESTART_PHASE_CLOSING_CONNECTIONS: RestartPhase
RESTART_PHASE_FINALIZING: RestartPhase
RESTART_PHASE_COMPLETE: RestartPhase
RESTART_PHASE_FAILED: RestartPhase
RESTART_PHASE_ROLLED_BACK: RestartPhase
RESTART_OUTCOME_UNSPECIFIED: RestartOutcome
RESTART_OUTCOME_SUCCEEDED: RestartOutcome
RESTART_OUTCOME_FAILED: RestartOutcome
RESTART_OUTCOME_ROLLED_BACK: RestartOutcome
RESTART_OUTCOME_INTERRUPTED: RestartOutcome
BLOCKING_ISSUE_CODE_UNSPECIFIED: BlockingIssueCode
BLOCKING_ISSUE_CODE_RESTART_IN_PROGRESS: BlockingIssueCode
BLOCKING_ISSUE_CODE_SHUTTING_DOWN: BlockingIssueCode
BLOCKING_ISSUE_CODE_SUCCESSOR_BINARY_MISSING: BlockingIssueCode
BLOCKING_ISSUE_CODE_SUCCESSOR_BINARY_NOT_EXECUTABLE: BlockingIssueCode
BLOCKING_ISSUE_CODE_RELOAD_IN_PROGRESS: BlockingIssueCode
BLOCKING_ISSUE_CODE_STORE_UNHEALTHY: BlockingIssueCode
BLOCKING_ISSUE_CODE_SNAPSHOT_UNWRITABLE: BlockingIssueCode
BLOCKING_ISSUE_CODE_LISTENERS_NOT_INHERITABLE: BlockingIssueCode
ROLLING_RESTART_STEP_UNSPECIFIED: RollingRestartStep
ROLLING_RESTART_STEP_PLANNED: RollingRestartStep
ROLLING_RESTART_STEP_RESTARTING: RollingRestartStep
ROLLING_RESTART_STEP_SERVING: RollingRestartStep
ROLLING_RESTART_STEP_RESTARTING_SELF: RollingRestartStep

class RestartRequest(_message.Message):
    __slots__ = ("mode", "reason", "drain_timeout", "preserve_state", "binary")
    MODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DRAIN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PRESERVE_STATE_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    mode: RestartMode
    reason: RestartReason
    drain_timeout: _duration_pb2.Duration
    preserve_state: bool
    binary: str
    def __init__(self, mode: _Optional[_Union[RestartMode, str]] = ..., reason: _Optional[_Union[RestartReason, str]] = ..., drain_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., preserve_state: _Optional[bool] = ..., binary: _Optional[str] = ...) -> None: ...

class RestartResponse(_message.Message):
    __slots__ = ("restart_id", "restart")
    RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    restart_id: str
    restart: RestartEvent
    def __init__(self, restart_id: _Optional[str] = ..., restart: _Optional[_Union[RestartEvent, _Mapping]] = ...) -> None: ...

class PrepareShutdownRequest(_message.Message):
    __slots__ = ("mode", "binary")
    MODE_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    mode: RestartMode
    binary: str
    def __init__(self, mode: _Optional[_Union[RestartMode, str]] = ..., binary: _Optional[str] = ...) -> None: ...

class PrepareShutdownResponse(_message.Message):
    __slots__ = ("ready", "blocking_issues", "checks", "resolved_mode", "checked_at")
    READY_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_ISSUES_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_MODE_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    ready: bool
    blocking_issues: _containers.RepeatedCompositeFieldContainer[BlockingIssue]
    checks: ShutdownChecks
    resolved_mode: RestartMode
    checked_at: _timestamp_pb2.Timestamp
    def __init__(self, ready: _Optional[bool] = ..., blocking_issues: _Optional[_Iterable[_Union[BlockingIssue, _Mapping]]] = ..., checks: _Optional[_Union[ShutdownChecks, _Mapping]] = ..., resolved_mode: _Optional[_Union[RestartMode, str]] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BlockingIssue(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: BlockingIssueCode
    message: str
    def __init__(self, code: _Optional[_Union[BlockingIssueCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ShutdownChecks(_message.Message):
    __slots__ = ("in_flight_rpcs", "open_streams", "scheduler_tasks", "pending_store_writes", "successor_binary", "successor_binary_present", "successor_binary_executable", "restart_in_progress", "restart_in_progress_id", "open_connections")
    IN_FLIGHT_RPCS_FIELD_NUMBER: _ClassVar[int]
    OPEN_STREAMS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_TASKS_FIELD_NUMBER: _ClassVar[int]
    PENDING_STORE_WRITES_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_BINARY_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_BINARY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_BINARY_EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    RESTART_IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESTART_IN_PROGRESS_ID_FIELD_NUMBER: _ClassVar[int]
    OPEN_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    in_flight_rpcs: int
    open_streams: int
    scheduler_tasks: int
    pending_store_writes: int
    successor_binary: str
    successor_binary_present: bool
    successor_binary_executable: bool
    restart_in_progress: bool
    restart_in_progress_id: str
    open_connections: int
    def __init__(self, in_flight_rpcs: _Optional[int] = ..., open_streams: _Optional[int] = ..., scheduler_tasks: _Optional[int] = ..., pending_store_writes: _Optional[int] = ..., successor_binary: _Optional[str] = ..., successor_binary_present: _Optional[bool] = ..., successor_binary_executable: _Optional[bool] = ..., restart_in_progress: _Optional[bool] = ..., restart_in_progress_id: _Optional[str] = ..., open_connections: _Optional[int] = ...) -> None: ...

class GetRestartStatusRequest(_message.Message):
    __slots__ = ("restart_id",)
    RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    restart_id: str
    def __init__(self, restart_id: _Optional[str] = ...) -> None: ...

class GetRestartStatusResponse(_message.Message):
    __slots__ = ("restart", "in_progress", "generation", "pid")
    RESTART_FIELD_NUMBER: _ClassVar[int]
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    restart: RestartEvent
    in_progress: bool
    generation: int
    pid: int
    def __init__(self, restart: _Optional[_Union[RestartEvent, _Mapping]] = ..., in_progress: _Optional[bool] = ..., generation: _Optional[int] = ..., pid: _Optional[int] = ...) -> None: ...

class ListRestartEventsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "outcomes")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    outcomes: _containers.RepeatedScalarFieldContainer[RestartOutcome]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., outcomes: _Optional[_Iterable[_Union[RestartOutcome, str]]] = ...) -> None: ...

class ListRestartEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[RestartEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[RestartEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchRestartRequest(_message.Message):
    __slots__ = ("restart_id",)
    RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    restart_id: str
    def __init__(self, restart_id: _Optional[str] = ...) -> None: ...

class WatchRestartResponse(_message.Message):
    __slots__ = ("restart", "previous_phase")
    RESTART_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PHASE_FIELD_NUMBER: _ClassVar[int]
    restart: RestartEvent
    previous_phase: RestartPhase
    def __init__(self, restart: _Optional[_Union[RestartEvent, _Mapping]] = ..., previous_phase: _Optional[_Union[RestartPhase, str]] = ...) -> None: ...

class TestReconnectRequest(_message.Message):
    __slots__ = ("session_id", "timeout")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    timeout: _duration_pb2.Duration
    def __init__(self, session_id: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TestReconnectResponse(_message.Message):
    __slots__ = ("success", "target", "connect_latency", "call_latency", "error", "pid", "generation", "stats", "session")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CONNECT_LATENCY_FIELD_NUMBER: _ClassVar[int]
    CALL_LATENCY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    success: bool
    target: str
    connect_latency: _duration_pb2.Duration
    call_latency: _duration_pb2.Duration
    error: str
    pid: int
    generation: int
    stats: ReconnectStats
    session: ReconnectSession
    def __init__(self, success: _Optional[bool] = ..., target: _Optional[str] = ..., connect_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., call_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., error: _Optional[str] = ..., pid: _Optional[int] = ..., generation: _Optional[int] = ..., stats: _Optional[_Union[ReconnectStats, _Mapping]] = ..., session: _Optional[_Union[ReconnectSession, _Mapping]] = ...) -> None: ...

class ReconnectStats(_message.Message):
    __slots__ = ("connections_drained", "streams_told_to_reconnect", "rpcs_completed_during_drain", "rpcs_canceled_during_drain", "restarts_total", "restarts_succeeded", "restarts_rolled_back", "restarts_failed", "last_restart_at", "last_restart_id", "counting_since")
    CONNECTIONS_DRAINED_FIELD_NUMBER: _ClassVar[int]
    STREAMS_TOLD_TO_RECONNECT_FIELD_NUMBER: _ClassVar[int]
    RPCS_COMPLETED_DURING_DRAIN_FIELD_NUMBER: _ClassVar[int]
    RPCS_CANCELED_DURING_DRAIN_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_ROLLED_BACK_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    LAST_RESTART_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTING_SINCE_FIELD_NUMBER: _ClassVar[int]
    connections_drained: int
    streams_told_to_reconnect: int
    rpcs_completed_during_drain: int
    rpcs_canceled_during_drain: int
    restarts_total: int
    restarts_succeeded: int
    restarts_rolled_back: int
    restarts_failed: int
    last_restart_at: _timestamp_pb2.Timestamp
    last_restart_id: str
    counting_since: _timestamp_pb2.Timestamp
    def __init__(self, connections_drained: _Optional[int] = ..., streams_told_to_reconnect: _Optional[int] = ..., rpcs_completed_during_drain: _Optional[int] = ..., rpcs_canceled_during_drain: _Optional[int] = ..., restarts_total: _Optional[int] = ..., restarts_succeeded: _Optional[int] = ..., restarts_rolled_back: _Optional[int] = ..., restarts_failed: _Optional[int] = ..., last_restart_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_restart_id: _Optional[str] = ..., counting_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReconnectSession(_message.Message):
    __slots__ = ("session_id", "seen_before", "calls", "first_seen_at", "previous_call_at", "previous_generation", "reconnected_across_restart")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEEN_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_CALL_AT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_GENERATION_FIELD_NUMBER: _ClassVar[int]
    RECONNECTED_ACROSS_RESTART_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    seen_before: bool
    calls: int
    first_seen_at: _timestamp_pb2.Timestamp
    previous_call_at: _timestamp_pb2.Timestamp
    previous_generation: int
    reconnected_across_restart: bool
    def __init__(self, session_id: _Optional[str] = ..., seen_before: _Optional[bool] = ..., calls: _Optional[int] = ..., first_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_call_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_generation: _Optional[int] = ..., reconnected_across_restart: _Optional[bool] = ...) -> None: ...

class RestartEvent(_message.Message):
    __slots__ = ("restart_id", "requested_mode", "mode", "reason", "phase", "progress_percent", "outcome", "failed_phase", "error", "phase_timings", "generation_before", "generation_after", "old_pid", "new_pid", "snapshot", "snapshot_detail", "drain_timeout", "preserve_state", "binary", "principal", "trace_id", "requested_at", "successor_ready_at", "finished_at", "duration", "drain")
    RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_MODE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FAILED_PHASE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PHASE_TIMINGS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_BEFORE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_AFTER_FIELD_NUMBER: _ClassVar[int]
    OLD_PID_FIELD_NUMBER: _ClassVar[int]
    NEW_PID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_DETAIL_FIELD_NUMBER: _ClassVar[int]
    DRAIN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PRESERVE_STATE_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_READY_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    restart_id: str
    requested_mode: RestartMode
    mode: RestartMode
    reason: RestartReason
    phase: RestartPhase
    progress_percent: int
    outcome: RestartOutcome
    failed_phase: RestartPhase
    error: str
    phase_timings: _containers.RepeatedCompositeFieldContainer[RestartPhaseTiming]
    generation_before: int
    generation_after: int
    old_pid: int
    new_pid: int
    snapshot: _common_pb2.SnapshotOutcome
    snapshot_detail: str
    drain_timeout: _duration_pb2.Duration
    preserve_state: bool
    binary: str
    principal: str
    trace_id: str
    requested_at: _timestamp_pb2.Timestamp
    successor_ready_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    drain: DrainStats
    def __init__(self, restart_id: _Optional[str] = ..., requested_mode: _Optional[_Union[RestartMode, str]] = ..., mode: _Optional[_Union[RestartMode, str]] = ..., reason: _Optional[_Union[RestartReason, str]] = ..., phase: _Optional[_Union[RestartPhase, str]] = ..., progress_percent: _Optional[int] = ..., outcome: _Optional[_Union[RestartOutcome, str]] = ..., failed_phase: _Optional[_Union[RestartPhase, str]] = ..., error: _Optional[str] = ..., phase_timings: _Optional[_Iterable[_Union[RestartPhaseTiming, _Mapping]]] = ..., generation_before: _Optional[int] = ..., generation_after: _Optional[int] = ..., old_pid: _Optional[int] = ..., new_pid: _Optional[int] = ..., snapshot: _Optional[_Union[_common_pb2.SnapshotOutcome, str]] = ..., snapshot_detail: _Optional[str] = ..., drain_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., preserve_state: _Optional[bool] = ..., binary: _Optional[str] = ..., principal: _Optional[str] = ..., trace_id: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., successor_ready_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., drain: _Optional[_Union[DrainStats, _Mapping]] = ...) -> None: ...

class RestartPhaseTiming(_message.Message):
    __slots__ = ("phase", "started_at", "duration")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    phase: RestartPhase
    started_at: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    def __init__(self, phase: _Optional[_Union[RestartPhase, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DrainStats(_message.Message):
    __slots__ = ("connections_drained", "streams_told_to_reconnect", "rpcs_completed", "rpcs_canceled")
    CONNECTIONS_DRAINED_FIELD_NUMBER: _ClassVar[int]
    STREAMS_TOLD_TO_RECONNECT_FIELD_NUMBER: _ClassVar[int]
    RPCS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    RPCS_CANCELED_FIELD_NUMBER: _ClassVar[int]
    connections_drained: int
    streams_told_to_reconnect: int
    rpcs_completed: int
    rpcs_canceled: int
    def __init__(self, connections_drained: _Optional[int] = ..., streams_told_to_reconnect: _Optional[int] = ..., rpcs_completed: _Optional[int] = ..., rpcs_canceled: _Optional[int] = ...) -> None: ...

class RollingRestartRequest(_message.Message):
    __slots__ = ("restart", "replica_timeout")
    RESTART_FIELD_NUMBER: _ClassVar[int]
    REPLICA_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    restart: RestartRequest
    replica_timeout: _duration_pb2.Duration
    def __init__(self, restart: _Optional[_Union[RestartRequest, _Mapping]] = ..., replica_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ReplicaRestart(_message.Message):
    __slots__ = ("replica_id", "address", "position", "generation_before", "generation_after", "restart_id", "time_to_serving", "coordinator")
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_BEFORE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_AFTER_FIELD_NUMBER: _ClassVar[int]
    RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_SERVING_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    replica_id: str
    address: str
    position: int
    generation_before: int
    generation_after: int
    restart_id: str
    time_to_serving: _duration_pb2.Duration
    coordinator: bool
    def __init__(self, replica_id: _Optional[str] = ..., address: _Optional[str] = ..., position: _Optional[int] = ..., generation_before: _Optional[int] = ..., generation_after: _Optional[int] = ..., restart_id: _Optional[str] = ..., time_to_serving: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., coordinator: _Optional[bool] = ...) -> None: ...

class RollingRestartResponse(_message.Message):
    __slots__ = ("step", "replica", "plan")
    STEP_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    step: RollingRestartStep
    replica: ReplicaRestart
    plan: _containers.RepeatedCompositeFieldContainer[ReplicaRestart]
    def __init__(self, step: _Optional[_Union[RollingRestartStep, str]] = ..., replica: _Optional[_Union[ReplicaRestart, _Mapping]] = ..., plan: _Optional[_Iterable[_Union[ReplicaRestart, _Mapping]]] = ...) -> None: ...
