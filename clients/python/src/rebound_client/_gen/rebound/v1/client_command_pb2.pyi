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

class CommandState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_STATE_UNSPECIFIED: _ClassVar[CommandState]
    COMMAND_STATE_QUEUED: _ClassVar[CommandState]
    COMMAND_STATE_PUBLISHED: _ClassVar[CommandState]
    COMMAND_STATE_ACCEPTED: _ClassVar[CommandState]
    COMMAND_STATE_EXECUTION_STARTED: _ClassVar[CommandState]
    COMMAND_STATE_COMPLETED: _ClassVar[CommandState]
    COMMAND_STATE_FAILED: _ClassVar[CommandState]
    COMMAND_STATE_TIMED_OUT: _ClassVar[CommandState]
    COMMAND_STATE_EXPIRED: _ClassVar[CommandState]
    COMMAND_STATE_CANCELED: _ClassVar[CommandState]
    COMMAND_STATE_REJECTED: _ClassVar[CommandState]

class CommandEventSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_EVENT_SOURCE_UNSPECIFIED: _ClassVar[CommandEventSource]
    COMMAND_EVENT_SOURCE_API: _ClassVar[CommandEventSource]
    COMMAND_EVENT_SOURCE_MQTT: _ClassVar[CommandEventSource]
    COMMAND_EVENT_SOURCE_SCHEDULER: _ClassVar[CommandEventSource]
    COMMAND_EVENT_SOURCE_RECOVERY: _ClassVar[CommandEventSource]

class CommandOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_ORIGIN_UNSPECIFIED: _ClassVar[CommandOrigin]
    COMMAND_ORIGIN_API: _ClassVar[CommandOrigin]
    COMMAND_ORIGIN_ROLLOUT: _ClassVar[CommandOrigin]
    COMMAND_ORIGIN_CRASH_RECOVERY: _ClassVar[CommandOrigin]

class CompletionEvidence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLETION_EVIDENCE_UNSPECIFIED: _ClassVar[CompletionEvidence]
    COMPLETION_EVIDENCE_ACK: _ClassVar[CompletionEvidence]
    COMPLETION_EVIDENCE_BOOT_ID_CHANGED: _ClassVar[CompletionEvidence]
    COMPLETION_EVIDENCE_RECONNECTED: _ClassVar[CompletionEvidence]
    COMPLETION_EVIDENCE_WENT_OFFLINE: _ClassVar[CompletionEvidence]

class CapabilityTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPABILITY_TIER_UNSPECIFIED: _ClassVar[CapabilityTier]
    CAPABILITY_TIER_BASIC: _ClassVar[CapabilityTier]
    CAPABILITY_TIER_MANAGED_POWER: _ClassVar[CapabilityTier]

class Presence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESENCE_UNSPECIFIED: _ClassVar[Presence]
    PRESENCE_ONLINE: _ClassVar[Presence]
    PRESENCE_OFFLINE: _ClassVar[Presence]

class ProcessStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROCESS_STATUS_UNSPECIFIED: _ClassVar[ProcessStatus]
    PROCESS_STATUS_STARTING: _ClassVar[ProcessStatus]
    PROCESS_STATUS_RUNNING: _ClassVar[ProcessStatus]
    PROCESS_STATUS_CRASHED: _ClassVar[ProcessStatus]
    PROCESS_STATUS_STOPPED: _ClassVar[ProcessStatus]

class CrashState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CRASH_STATE_UNSPECIFIED: _ClassVar[CrashState]
    CRASH_STATE_HEALTHY: _ClassVar[CrashState]
    CRASH_STATE_CRASHED: _ClassVar[CrashState]
    CRASH_STATE_STALE: _ClassVar[CrashState]

class CrashRecoveryStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CRASH_RECOVERY_STEP_UNSPECIFIED: _ClassVar[CrashRecoveryStep]
    CRASH_RECOVERY_STEP_IDLE: _ClassVar[CrashRecoveryStep]
    CRASH_RECOVERY_STEP_RESTART_APP: _ClassVar[CrashRecoveryStep]
    CRASH_RECOVERY_STEP_REBOOT_HOST: _ClassVar[CrashRecoveryStep]
    CRASH_RECOVERY_STEP_POWER_CYCLE: _ClassVar[CrashRecoveryStep]
    CRASH_RECOVERY_STEP_NEEDS_ATTENTION: _ClassVar[CrashRecoveryStep]

class RolloutState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STATE_UNSPECIFIED: _ClassVar[RolloutState]
    ROLLOUT_STATE_PENDING: _ClassVar[RolloutState]
    ROLLOUT_STATE_CANARY: _ClassVar[RolloutState]
    ROLLOUT_STATE_WAVES: _ClassVar[RolloutState]
    ROLLOUT_STATE_COMPLETED: _ClassVar[RolloutState]
    ROLLOUT_STATE_ABORTED: _ClassVar[RolloutState]
    ROLLOUT_STATE_FAILED: _ClassVar[RolloutState]

class RolloutAbortCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_ABORT_CAUSE_UNSPECIFIED: _ClassVar[RolloutAbortCause]
    ROLLOUT_ABORT_CAUSE_FAILURE_THRESHOLD: _ClassVar[RolloutAbortCause]
    ROLLOUT_ABORT_CAUSE_OPERATOR: _ClassVar[RolloutAbortCause]
COMMAND_STATE_UNSPECIFIED: CommandState
COMMAND_STATE_QUEUED: CommandState
COMMAND_STATE_PUBLISHED: CommandState
COMMAND_STATE_ACCEPTED: CommandState
COMMAND_STATE_EXECUTION_STARTED: CommandState
COMMAND_STATE_COMPLETED: CommandState
COMMAND_STATE_FAILED: CommandState
COMMAND_STATE_TIMED_OUT: CommandState
COMMAND_STATE_EXPIRED: CommandState
COMMAND_STATE_CANCELED: CommandState
COMMAND_STATE_REJECTED: CommandState
COMMAND_EVENT_SOURCE_UNSPECIFIED: CommandEventSource
COMMAND_EVENT_SOURCE_API: CommandEventSource
COMMAND_EVENT_SOURCE_MQTT: CommandEventSource
COMMAND_EVENT_SOURCE_SCHEDULER: CommandEventSource
COMMAND_EVENT_SOURCE_RECOVERY: CommandEventSource
COMMAND_ORIGIN_UNSPECIFIED: CommandOrigin
COMMAND_ORIGIN_API: CommandOrigin
COMMAND_ORIGIN_ROLLOUT: CommandOrigin
COMMAND_ORIGIN_CRASH_RECOVERY: CommandOrigin
COMPLETION_EVIDENCE_UNSPECIFIED: CompletionEvidence
COMPLETION_EVIDENCE_ACK: CompletionEvidence
COMPLETION_EVIDENCE_BOOT_ID_CHANGED: CompletionEvidence
COMPLETION_EVIDENCE_RECONNECTED: CompletionEvidence
COMPLETION_EVIDENCE_WENT_OFFLINE: CompletionEvidence
CAPABILITY_TIER_UNSPECIFIED: CapabilityTier
CAPABILITY_TIER_BASIC: CapabilityTier
CAPABILITY_TIER_MANAGED_POWER: CapabilityTier
PRESENCE_UNSPECIFIED: Presence
PRESENCE_ONLINE: Presence
PRESENCE_OFFLINE: Presence
PROCESS_STATUS_UNSPECIFIED: ProcessStatus
PROCESS_STATUS_STARTING: ProcessStatus
PROCESS_STATUS_RUNNING: ProcessStatus
PROCESS_STATUS_CRASHED: ProcessStatus
PROCESS_STATUS_STOPPED: ProcessStatus
CRASH_STATE_UNSPECIFIED: CrashState
CRASH_STATE_HEALTHY: CrashState
CRASH_STATE_CRASHED: CrashState
CRASH_STATE_STALE: CrashState
CRASH_RECOVERY_STEP_UNSPECIFIED: CrashRecoveryStep
CRASH_RECOVERY_STEP_IDLE: CrashRecoveryStep
CRASH_RECOVERY_STEP_RESTART_APP: CrashRecoveryStep
CRASH_RECOVERY_STEP_REBOOT_HOST: CrashRecoveryStep
CRASH_RECOVERY_STEP_POWER_CYCLE: CrashRecoveryStep
CRASH_RECOVERY_STEP_NEEDS_ATTENTION: CrashRecoveryStep
ROLLOUT_STATE_UNSPECIFIED: RolloutState
ROLLOUT_STATE_PENDING: RolloutState
ROLLOUT_STATE_CANARY: RolloutState
ROLLOUT_STATE_WAVES: RolloutState
ROLLOUT_STATE_COMPLETED: RolloutState
ROLLOUT_STATE_ABORTED: RolloutState
ROLLOUT_STATE_FAILED: RolloutState
ROLLOUT_ABORT_CAUSE_UNSPECIFIED: RolloutAbortCause
ROLLOUT_ABORT_CAUSE_FAILURE_THRESHOLD: RolloutAbortCause
ROLLOUT_ABORT_CAUSE_OPERATOR: RolloutAbortCause

class LateOutcome(_message.Message):
    __slots__ = ("state", "received_at", "error_code", "error_message", "boot_id")
    STATE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    state: CommandState
    received_at: _timestamp_pb2.Timestamp
    error_code: str
    error_message: str
    boot_id: str
    def __init__(self, state: _Optional[_Union[CommandState, str]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., boot_id: _Optional[str] = ...) -> None: ...

class CommandEvent(_message.Message):
    __slots__ = ("occurred_at", "from_state", "to_state", "source", "detail")
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    occurred_at: _timestamp_pb2.Timestamp
    from_state: CommandState
    to_state: CommandState
    source: CommandEventSource
    detail: str
    def __init__(self, occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., from_state: _Optional[_Union[CommandState, str]] = ..., to_state: _Optional[_Union[CommandState, str]] = ..., source: _Optional[_Union[CommandEventSource, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("command_id", "client_uuid", "action", "state", "reason", "requested_by", "issued_at", "expires_at", "updated_at", "error_code", "error_message", "boot_id_at_issue", "boot_id_at_completion", "late_outcome", "rollout_id", "events", "origin", "published_at", "accepted_at", "execution_started_at", "finished_at", "timeout_at", "completion_evidence", "ignored_acks", "principal", "trace_id")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_AT_ISSUE_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_AT_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    LATE_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    IGNORED_ACKS_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    client_uuid: str
    action: _common_pb2.Action
    state: CommandState
    reason: str
    requested_by: int
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    error_code: str
    error_message: str
    boot_id_at_issue: str
    boot_id_at_completion: str
    late_outcome: LateOutcome
    rollout_id: str
    events: _containers.RepeatedCompositeFieldContainer[CommandEvent]
    origin: CommandOrigin
    published_at: _timestamp_pb2.Timestamp
    accepted_at: _timestamp_pb2.Timestamp
    execution_started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    timeout_at: _timestamp_pb2.Timestamp
    completion_evidence: CompletionEvidence
    ignored_acks: int
    principal: str
    trace_id: str
    def __init__(self, command_id: _Optional[str] = ..., client_uuid: _Optional[str] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., state: _Optional[_Union[CommandState, str]] = ..., reason: _Optional[str] = ..., requested_by: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., boot_id_at_issue: _Optional[str] = ..., boot_id_at_completion: _Optional[str] = ..., late_outcome: _Optional[_Union[LateOutcome, _Mapping]] = ..., rollout_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[CommandEvent, _Mapping]]] = ..., origin: _Optional[_Union[CommandOrigin, str]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., execution_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeout_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completion_evidence: _Optional[_Union[CompletionEvidence, str]] = ..., ignored_acks: _Optional[int] = ..., principal: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class IssueCommandRequest(_message.Message):
    __slots__ = ("command_id", "client_uuid", "action", "reason", "requested_by", "expires_in")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    client_uuid: str
    action: _common_pb2.Action
    reason: str
    requested_by: int
    expires_in: _duration_pb2.Duration
    def __init__(self, command_id: _Optional[str] = ..., client_uuid: _Optional[str] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., reason: _Optional[str] = ..., requested_by: _Optional[int] = ..., expires_in: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class IssueCommandResponse(_message.Message):
    __slots__ = ("command", "created")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    command: Command
    created: bool
    def __init__(self, command: _Optional[_Union[Command, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetCommandRequest(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class GetCommandResponse(_message.Message):
    __slots__ = ("command",)
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    command: Command
    def __init__(self, command: _Optional[_Union[Command, _Mapping]] = ...) -> None: ...

class ListCommandsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "client_uuid", "states", "action", "rollout_id", "origin", "include_events")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    client_uuid: str
    states: _containers.RepeatedScalarFieldContainer[CommandState]
    action: _common_pb2.Action
    rollout_id: str
    origin: CommandOrigin
    include_events: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., client_uuid: _Optional[str] = ..., states: _Optional[_Iterable[_Union[CommandState, str]]] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., rollout_id: _Optional[str] = ..., origin: _Optional[_Union[CommandOrigin, str]] = ..., include_events: _Optional[bool] = ...) -> None: ...

class ListCommandsResponse(_message.Message):
    __slots__ = ("commands", "next_page_token")
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    next_page_token: str
    def __init__(self, commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelCommandRequest(_message.Message):
    __slots__ = ("command_id", "reason")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    reason: str
    def __init__(self, command_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelCommandResponse(_message.Message):
    __slots__ = ("command",)
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    command: Command
    def __init__(self, command: _Optional[_Union[Command, _Mapping]] = ...) -> None: ...

class WatchCommandsRequest(_message.Message):
    __slots__ = ("command_id", "client_uuid", "states", "action", "rollout_id", "include_current", "include_events")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CURRENT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    client_uuid: str
    states: _containers.RepeatedScalarFieldContainer[CommandState]
    action: _common_pb2.Action
    rollout_id: str
    include_current: bool
    include_events: bool
    def __init__(self, command_id: _Optional[str] = ..., client_uuid: _Optional[str] = ..., states: _Optional[_Iterable[_Union[CommandState, str]]] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., rollout_id: _Optional[str] = ..., include_current: _Optional[bool] = ..., include_events: _Optional[bool] = ...) -> None: ...

class WatchCommandsResponse(_message.Message):
    __slots__ = ("command", "event")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    command: Command
    event: CommandEvent
    def __init__(self, command: _Optional[_Union[Command, _Mapping]] = ..., event: _Optional[_Union[CommandEvent, _Mapping]] = ...) -> None: ...

class CrashRecovery(_message.Message):
    __slots__ = ("step", "detected_at", "step_started_at", "next_step_not_before", "command_id", "detail")
    STEP_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_FIELD_NUMBER: _ClassVar[int]
    STEP_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    step: CrashRecoveryStep
    detected_at: _timestamp_pb2.Timestamp
    step_started_at: _timestamp_pb2.Timestamp
    next_step_not_before: _timestamp_pb2.Timestamp
    command_id: str
    detail: str
    def __init__(self, step: _Optional[_Union[CrashRecoveryStep, str]] = ..., detected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_step_not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., command_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class LockoutStatus(_message.Message):
    __slots__ = ("commands_in_window", "max", "window", "locked_out", "next_allowed_at")
    COMMANDS_IN_WINDOW_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    LOCKED_OUT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ALLOWED_AT_FIELD_NUMBER: _ClassVar[int]
    commands_in_window: int
    max: int
    window: _duration_pb2.Duration
    locked_out: bool
    next_allowed_at: _timestamp_pb2.Timestamp
    def __init__(self, commands_in_window: _Optional[int] = ..., max: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., locked_out: _Optional[bool] = ..., next_allowed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Client(_message.Message):
    __slots__ = ("client_uuid", "group", "capability_tier", "presence", "presence_changed_at", "last_seen_at", "last_health_at", "boot_id", "uptime", "app_version", "process_status", "mqtt_reconnect_count", "mqtt_last_disconnect_at", "service_failed_unit", "service_failed_at", "crash_state", "needs_attention", "crash_recovery", "lockout", "registered_at", "updated_at")
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_TIER_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEALTH_AT_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROCESS_STATUS_FIELD_NUMBER: _ClassVar[int]
    MQTT_RECONNECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    MQTT_LAST_DISCONNECT_AT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FAILED_UNIT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    CRASH_STATE_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ATTENTION_FIELD_NUMBER: _ClassVar[int]
    CRASH_RECOVERY_FIELD_NUMBER: _ClassVar[int]
    LOCKOUT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    client_uuid: str
    group: str
    capability_tier: CapabilityTier
    presence: Presence
    presence_changed_at: _timestamp_pb2.Timestamp
    last_seen_at: _timestamp_pb2.Timestamp
    last_health_at: _timestamp_pb2.Timestamp
    boot_id: str
    uptime: _duration_pb2.Duration
    app_version: str
    process_status: ProcessStatus
    mqtt_reconnect_count: int
    mqtt_last_disconnect_at: _timestamp_pb2.Timestamp
    service_failed_unit: str
    service_failed_at: _timestamp_pb2.Timestamp
    crash_state: CrashState
    needs_attention: bool
    crash_recovery: CrashRecovery
    lockout: LockoutStatus
    registered_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, client_uuid: _Optional[str] = ..., group: _Optional[str] = ..., capability_tier: _Optional[_Union[CapabilityTier, str]] = ..., presence: _Optional[_Union[Presence, str]] = ..., presence_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_health_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., boot_id: _Optional[str] = ..., uptime: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., app_version: _Optional[str] = ..., process_status: _Optional[_Union[ProcessStatus, str]] = ..., mqtt_reconnect_count: _Optional[int] = ..., mqtt_last_disconnect_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., service_failed_unit: _Optional[str] = ..., service_failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., crash_state: _Optional[_Union[CrashState, str]] = ..., needs_attention: _Optional[bool] = ..., crash_recovery: _Optional[_Union[CrashRecovery, _Mapping]] = ..., lockout: _Optional[_Union[LockoutStatus, _Mapping]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListClientsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "group", "presence", "needs_attention", "service_failed", "capability_tier", "crash_state", "uuid_prefix", "include_total_size")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ATTENTION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FAILED_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_TIER_FIELD_NUMBER: _ClassVar[int]
    CRASH_STATE_FIELD_NUMBER: _ClassVar[int]
    UUID_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    group: str
    presence: Presence
    needs_attention: bool
    service_failed: bool
    capability_tier: CapabilityTier
    crash_state: CrashState
    uuid_prefix: str
    include_total_size: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., group: _Optional[str] = ..., presence: _Optional[_Union[Presence, str]] = ..., needs_attention: _Optional[bool] = ..., service_failed: _Optional[bool] = ..., capability_tier: _Optional[_Union[CapabilityTier, str]] = ..., crash_state: _Optional[_Union[CrashState, str]] = ..., uuid_prefix: _Optional[str] = ..., include_total_size: _Optional[bool] = ...) -> None: ...

class ListClientsResponse(_message.Message):
    __slots__ = ("clients", "next_page_token", "total_size")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[Client]
    next_page_token: str
    total_size: int
    def __init__(self, clients: _Optional[_Iterable[_Union[Client, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CountClientsRequest(_message.Message):
    __slots__ = ("group", "uuid_prefix")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    UUID_PREFIX_FIELD_NUMBER: _ClassVar[int]
    group: str
    uuid_prefix: str
    def __init__(self, group: _Optional[str] = ..., uuid_prefix: _Optional[str] = ...) -> None: ...

class CountClientsResponse(_message.Message):
    __slots__ = ("total", "online", "offline", "crashed", "service_failed", "counted_at")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    CRASHED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FAILED_FIELD_NUMBER: _ClassVar[int]
    COUNTED_AT_FIELD_NUMBER: _ClassVar[int]
    total: int
    online: int
    offline: int
    crashed: int
    service_failed: int
    counted_at: _timestamp_pb2.Timestamp
    def __init__(self, total: _Optional[int] = ..., online: _Optional[int] = ..., offline: _Optional[int] = ..., crashed: _Optional[int] = ..., service_failed: _Optional[int] = ..., counted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetClientRequest(_message.Message):
    __slots__ = ("client_uuid",)
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    client_uuid: str
    def __init__(self, client_uuid: _Optional[str] = ...) -> None: ...

class GetClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class UpdateClientRequest(_message.Message):
    __slots__ = ("client_uuid", "group", "capability_tier")
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_TIER_FIELD_NUMBER: _ClassVar[int]
    client_uuid: str
    group: str
    capability_tier: CapabilityTier
    def __init__(self, client_uuid: _Optional[str] = ..., group: _Optional[str] = ..., capability_tier: _Optional[_Union[CapabilityTier, str]] = ...) -> None: ...

class UpdateClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: Client
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ...) -> None: ...

class ClearServiceFailedRequest(_message.Message):
    __slots__ = ("client_uuid",)
    CLIENT_UUID_FIELD_NUMBER: _ClassVar[int]
    client_uuid: str
    def __init__(self, client_uuid: _Optional[str] = ...) -> None: ...

class ClearServiceFailedResponse(_message.Message):
    __slots__ = ("client", "cleared")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    CLEARED_FIELD_NUMBER: _ClassVar[int]
    client: Client
    cleared: bool
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ..., cleared: _Optional[bool] = ...) -> None: ...

class ClientUuidList(_message.Message):
    __slots__ = ("client_uuids",)
    CLIENT_UUIDS_FIELD_NUMBER: _ClassVar[int]
    client_uuids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, client_uuids: _Optional[_Iterable[str]] = ...) -> None: ...

class RolloutTarget(_message.Message):
    __slots__ = ("clients", "group", "all_clients")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    ALL_CLIENTS_FIELD_NUMBER: _ClassVar[int]
    clients: ClientUuidList
    group: str
    all_clients: bool
    def __init__(self, clients: _Optional[_Union[ClientUuidList, _Mapping]] = ..., group: _Optional[str] = ..., all_clients: _Optional[bool] = ...) -> None: ...

class RolloutCounters(_message.Message):
    __slots__ = ("total", "pending", "queued", "in_flight", "completed", "failed", "timed_out", "expired", "canceled", "rejected")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    CANCELED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    total: int
    pending: int
    queued: int
    in_flight: int
    completed: int
    failed: int
    timed_out: int
    expired: int
    canceled: int
    rejected: int
    def __init__(self, total: _Optional[int] = ..., pending: _Optional[int] = ..., queued: _Optional[int] = ..., in_flight: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., timed_out: _Optional[int] = ..., expired: _Optional[int] = ..., canceled: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("rollout_id", "action", "state", "target", "canary_size", "max_per_minute", "abort_failure_percent", "min_finished", "reason", "requested_by", "principal", "counters", "failure_percent", "abort_reason", "abort_cause", "error", "expires_in", "created_at", "started_at", "canary_finished_at", "finished_at", "updated_at")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CANARY_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    ABORT_FAILURE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MIN_FINISHED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ABORT_REASON_FIELD_NUMBER: _ClassVar[int]
    ABORT_CAUSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    CANARY_FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    action: _common_pb2.Action
    state: RolloutState
    target: RolloutTarget
    canary_size: int
    max_per_minute: int
    abort_failure_percent: float
    min_finished: int
    reason: str
    requested_by: int
    principal: str
    counters: RolloutCounters
    failure_percent: float
    abort_reason: str
    abort_cause: RolloutAbortCause
    error: str
    expires_in: _duration_pb2.Duration
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    canary_finished_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, rollout_id: _Optional[str] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., state: _Optional[_Union[RolloutState, str]] = ..., target: _Optional[_Union[RolloutTarget, _Mapping]] = ..., canary_size: _Optional[int] = ..., max_per_minute: _Optional[int] = ..., abort_failure_percent: _Optional[float] = ..., min_finished: _Optional[int] = ..., reason: _Optional[str] = ..., requested_by: _Optional[int] = ..., principal: _Optional[str] = ..., counters: _Optional[_Union[RolloutCounters, _Mapping]] = ..., failure_percent: _Optional[float] = ..., abort_reason: _Optional[str] = ..., abort_cause: _Optional[_Union[RolloutAbortCause, str]] = ..., error: _Optional[str] = ..., expires_in: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., canary_finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartRolloutRequest(_message.Message):
    __slots__ = ("rollout_id", "action", "target", "canary_count", "canary_percent", "max_per_minute", "abort_failure_percent", "min_finished", "reason", "requested_by", "expires_in")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CANARY_COUNT_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    ABORT_FAILURE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MIN_FINISHED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    action: _common_pb2.Action
    target: RolloutTarget
    canary_count: int
    canary_percent: int
    max_per_minute: int
    abort_failure_percent: float
    min_finished: int
    reason: str
    requested_by: int
    expires_in: _duration_pb2.Duration
    def __init__(self, rollout_id: _Optional[str] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., target: _Optional[_Union[RolloutTarget, _Mapping]] = ..., canary_count: _Optional[int] = ..., canary_percent: _Optional[int] = ..., max_per_minute: _Optional[int] = ..., abort_failure_percent: _Optional[float] = ..., min_finished: _Optional[int] = ..., reason: _Optional[str] = ..., requested_by: _Optional[int] = ..., expires_in: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StartRolloutResponse(_message.Message):
    __slots__ = ("rollout", "created")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    created: bool
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetRolloutRequest(_message.Message):
    __slots__ = ("rollout_id",)
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    def __init__(self, rollout_id: _Optional[str] = ...) -> None: ...

class GetRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class ListRolloutsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "states", "action")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[RolloutState]
    action: _common_pb2.Action
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[RolloutState, str]]] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ...) -> None: ...

class ListRolloutsResponse(_message.Message):
    __slots__ = ("rollouts", "next_page_token")
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rollouts: _containers.RepeatedCompositeFieldContainer[Rollout]
    next_page_token: str
    def __init__(self, rollouts: _Optional[_Iterable[_Union[Rollout, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AbortRolloutRequest(_message.Message):
    __slots__ = ("rollout_id", "reason")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    reason: str
    def __init__(self, rollout_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AbortRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class WatchRolloutRequest(_message.Message):
    __slots__ = ("rollout_id",)
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    def __init__(self, rollout_id: _Optional[str] = ...) -> None: ...

class WatchRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...
