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

class PreviousRun(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREVIOUS_RUN_UNSPECIFIED: _ClassVar[PreviousRun]
    PREVIOUS_RUN_CLEAN_SHUTDOWN: _ClassVar[PreviousRun]
    PREVIOUS_RUN_CRASHED: _ClassVar[PreviousRun]
    PREVIOUS_RUN_FIRST_START: _ClassVar[PreviousRun]
    PREVIOUS_RUN_UNKNOWN: _ClassVar[PreviousRun]

class AuditOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_OUTCOME_UNSPECIFIED: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_SUCCEEDED: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_FAILED: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_DENIED: _ClassVar[AuditOutcome]
PREVIOUS_RUN_UNSPECIFIED: PreviousRun
PREVIOUS_RUN_CLEAN_SHUTDOWN: PreviousRun
PREVIOUS_RUN_CRASHED: PreviousRun
PREVIOUS_RUN_FIRST_START: PreviousRun
PREVIOUS_RUN_UNKNOWN: PreviousRun
AUDIT_OUTCOME_UNSPECIFIED: AuditOutcome
AUDIT_OUTCOME_SUCCEEDED: AuditOutcome
AUDIT_OUTCOME_FAILED: AuditOutcome
AUDIT_OUTCOME_DENIED: AuditOutcome

class RecoveryCategory(_message.Message):
    __slots__ = ("name", "count", "ids", "ids_truncated", "action")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    IDS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    ids: _containers.RepeatedScalarFieldContainer[str]
    ids_truncated: bool
    action: str
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ..., ids: _Optional[_Iterable[str]] = ..., ids_truncated: _Optional[bool] = ..., action: _Optional[str] = ...) -> None: ...

class SnapshotConsistency(_message.Message):
    __slots__ = ("snapshot", "checked", "consistent", "discrepancies", "detail")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    CONSISTENT_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCIES_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    snapshot: _common_pb2.SnapshotOutcome
    checked: bool
    consistent: bool
    discrepancies: _containers.RepeatedScalarFieldContainer[str]
    detail: str
    def __init__(self, snapshot: _Optional[_Union[_common_pb2.SnapshotOutcome, str]] = ..., checked: _Optional[bool] = ..., consistent: _Optional[bool] = ..., discrepancies: _Optional[_Iterable[str]] = ..., detail: _Optional[str] = ...) -> None: ...

class RecoveryReport(_message.Message):
    __slots__ = ("report_id", "started_at", "duration", "previous_run", "categories", "snapshot", "pid", "generation", "restart_id", "version", "warnings")
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RUN_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    started_at: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    previous_run: PreviousRun
    categories: _containers.RepeatedCompositeFieldContainer[RecoveryCategory]
    snapshot: SnapshotConsistency
    pid: int
    generation: int
    restart_id: str
    version: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, report_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., previous_run: _Optional[_Union[PreviousRun, str]] = ..., categories: _Optional[_Iterable[_Union[RecoveryCategory, _Mapping]]] = ..., snapshot: _Optional[_Union[SnapshotConsistency, _Mapping]] = ..., pid: _Optional[int] = ..., generation: _Optional[int] = ..., restart_id: _Optional[str] = ..., version: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRecoveryReportRequest(_message.Message):
    __slots__ = ("report_id",)
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    def __init__(self, report_id: _Optional[str] = ...) -> None: ...

class GetRecoveryReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: RecoveryReport
    def __init__(self, report: _Optional[_Union[RecoveryReport, _Mapping]] = ...) -> None: ...

class ListRecoveryReportsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "previous_run")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RUN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    previous_run: PreviousRun
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., previous_run: _Optional[_Union[PreviousRun, str]] = ...) -> None: ...

class ListRecoveryReportsResponse(_message.Message):
    __slots__ = ("reports", "next_page_token")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[RecoveryReport]
    next_page_token: str
    def __init__(self, reports: _Optional[_Iterable[_Union[RecoveryReport, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RunCleanupRequest(_message.Message):
    __slots__ = ("dry_run", "retention")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    retention: _duration_pb2.Duration
    def __init__(self, dry_run: _Optional[bool] = ..., retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CleanupTableCount(_message.Message):
    __slots__ = ("table", "rows")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    table: str
    rows: int
    def __init__(self, table: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class RunCleanupResponse(_message.Message):
    __slots__ = ("dry_run", "cutoff", "tables", "total_rows", "batches", "duration")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    cutoff: _timestamp_pb2.Timestamp
    tables: _containers.RepeatedCompositeFieldContainer[CleanupTableCount]
    total_rows: int
    batches: int
    duration: _duration_pb2.Duration
    def __init__(self, dry_run: _Optional[bool] = ..., cutoff: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tables: _Optional[_Iterable[_Union[CleanupTableCount, _Mapping]]] = ..., total_rows: _Optional[int] = ..., batches: _Optional[int] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class BackupRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class BackupResponse(_message.Message):
    __slots__ = ("path", "size_bytes", "duration", "sha256", "completed_at")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    duration: _duration_pb2.Duration
    sha256: str
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., sha256: _Optional[str] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("event_id", "occurred_at", "principal", "role", "peer", "rpc", "arguments", "outcome", "code", "message", "trace_id", "duration")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    RPC_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    principal: str
    role: str
    peer: str
    rpc: str
    arguments: str
    outcome: AuditOutcome
    code: str
    message: str
    trace_id: str
    duration: _duration_pb2.Duration
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., principal: _Optional[str] = ..., role: _Optional[str] = ..., peer: _Optional[str] = ..., rpc: _Optional[str] = ..., arguments: _Optional[str] = ..., outcome: _Optional[_Union[AuditOutcome, str]] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., trace_id: _Optional[str] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "principal", "rpc", "since", "until", "outcome")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    RPC_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    principal: str
    rpc: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    outcome: AuditOutcome
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., principal: _Optional[str] = ..., rpc: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[AuditOutcome, str]] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
