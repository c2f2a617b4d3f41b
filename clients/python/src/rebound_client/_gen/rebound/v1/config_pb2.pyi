import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReloadResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELOAD_RESULT_UNSPECIFIED: _ClassVar[ReloadResult]
    RELOAD_RESULT_SUCCESS: _ClassVar[ReloadResult]
    RELOAD_RESULT_UNCHANGED: _ClassVar[ReloadResult]
    RELOAD_RESULT_VALIDATION_FAILED: _ClassVar[ReloadResult]
    RELOAD_RESULT_FILE_NOT_FOUND: _ClassVar[ReloadResult]
    RELOAD_RESULT_IO_ERROR: _ClassVar[ReloadResult]
    RELOAD_RESULT_ALREADY_IN_PROGRESS: _ClassVar[ReloadResult]
    RELOAD_RESULT_RESTART_REQUIRED: _ClassVar[ReloadResult]
    RELOAD_RESULT_ROLLED_BACK: _ClassVar[ReloadResult]

class ReloadTrigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELOAD_TRIGGER_UNSPECIFIED: _ClassVar[ReloadTrigger]
    RELOAD_TRIGGER_SIGNAL: _ClassVar[ReloadTrigger]
    RELOAD_TRIGGER_RPC: _ClassVar[ReloadTrigger]
    RELOAD_TRIGGER_WATCH: _ClassVar[ReloadTrigger]
    RELOAD_TRIGGER_STARTUP: _ClassVar[ReloadTrigger]

class ConfigSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_SOURCE_UNSPECIFIED: _ClassVar[ConfigSource]
    CONFIG_SOURCE_FILE: _ClassVar[ConfigSource]
    CONFIG_SOURCE_INLINE: _ClassVar[ConfigSource]
    CONFIG_SOURCE_DEFAULTS: _ClassVar[ConfigSource]

class ConfigChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_CHANGE_KIND_UNSPECIFIED: _ClassVar[ConfigChangeKind]
    CONFIG_CHANGE_KIND_ADDED: _ClassVar[ConfigChangeKind]
    CONFIG_CHANGE_KIND_REMOVED: _ClassVar[ConfigChangeKind]
    CONFIG_CHANGE_KIND_MODIFIED: _ClassVar[ConfigChangeKind]
RELOAD_RESULT_UNSPECIFIED: ReloadResult
RELOAD_RESULT_SUCCESS: ReloadResult
RELOAD_RESULT_UNCHANGED: ReloadResult
RELOAD_RESULT_VALIDATION_FAILED: ReloadResult
RELOAD_RESULT_FILE_NOT_FOUND: ReloadResult
RELOAD_RESULT_IO_ERROR: ReloadResult
RELOAD_RESULT_ALREADY_IN_PROGRESS: ReloadResult
RELOAD_RESULT_RESTART_REQUIRED: ReloadResult
RELOAD_RESULT_ROLLED_BACK: ReloadResult
RELOAD_TRIGGER_UNSPECIFIED: ReloadTrigger
RELOAD_TRIGGER_SIGNAL: ReloadTrigger
RELOAD_TRIGGER_RPC: ReloadTrigger
RELOAD_TRIGGER_WATCH: ReloadTrigger
RELOAD_TRIGGER_STARTUP: ReloadTrigger
CONFIG_SOURCE_UNSPECIFIED: ConfigSource
CONFIG_SOURCE_FILE: ConfigSource
CONFIG_SOURCE_INLINE: ConfigSource
CONFIG_SOURCE_DEFAULTS: ConfigSource
CONFIG_CHANGE_KIND_UNSPECIFIED: ConfigChangeKind
CONFIG_CHANGE_KIND_ADDED: ConfigChangeKind
CONFIG_CHANGE_KIND_REMOVED: ConfigChangeKind
CONFIG_CHANGE_KIND_MODIFIED: ConfigChangeKind

class ConfigChange(_message.Message):
    __slots__ = ("path", "kind", "old_value", "new_value", "restart_required", "secret")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    RESTART_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: ConfigChangeKind
    old_value: str
    new_value: str
    restart_required: bool
    secret: bool
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[ConfigChangeKind, str]] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ..., restart_required: _Optional[bool] = ..., secret: _Optional[bool] = ...) -> None: ...

class ConfigValidationError(_message.Message):
    __slots__ = ("path", "reason", "line", "column")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    line: int
    column: int
    def __init__(self, path: _Optional[str] = ..., reason: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ...) -> None: ...

class GetConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetConfigResponse(_message.Message):
    __slots__ = ("toml", "version", "schema_version", "content_hash", "source", "source_path", "loaded_at", "env_overrides", "watch_enabled")
    TOML_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    ENV_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    WATCH_ENABLED_FIELD_NUMBER: _ClassVar[int]
    toml: str
    version: int
    schema_version: int
    content_hash: str
    source: ConfigSource
    source_path: str
    loaded_at: _timestamp_pb2.Timestamp
    env_overrides: _containers.RepeatedScalarFieldContainer[str]
    watch_enabled: bool
    def __init__(self, toml: _Optional[str] = ..., version: _Optional[int] = ..., schema_version: _Optional[int] = ..., content_hash: _Optional[str] = ..., source: _Optional[_Union[ConfigSource, str]] = ..., source_path: _Optional[str] = ..., loaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., env_overrides: _Optional[_Iterable[str]] = ..., watch_enabled: _Optional[bool] = ...) -> None: ...

class ReloadRequest(_message.Message):
    __slots__ = ("content", "restart_if_required")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    RESTART_IF_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    content: str
    restart_if_required: bool
    def __init__(self, content: _Optional[str] = ..., restart_if_required: _Optional[bool] = ...) -> None: ...

class ReloadResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ReloadEvent
    def __init__(self, event: _Optional[_Union[ReloadEvent, _Mapping]] = ...) -> None: ...

class ValidateRequest(_message.Message):
    __slots__ = ("path", "content")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    path: str
    content: str
    def __init__(self, path: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class ValidateResponse(_message.Message):
    __slots__ = ("valid", "result", "errors", "changes", "restart_required", "content_hash", "error")
    VALID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    RESTART_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    result: ReloadResult
    errors: _containers.RepeatedCompositeFieldContainer[ConfigValidationError]
    changes: _containers.RepeatedCompositeFieldContainer[ConfigChange]
    restart_required: bool
    content_hash: str
    error: str
    def __init__(self, valid: _Optional[bool] = ..., result: _Optional[_Union[ReloadResult, str]] = ..., errors: _Optional[_Iterable[_Union[ConfigValidationError, _Mapping]]] = ..., changes: _Optional[_Iterable[_Union[ConfigChange, _Mapping]]] = ..., restart_required: _Optional[bool] = ..., content_hash: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class ReloadEvent(_message.Message):
    __slots__ = ("reload_id", "result", "trigger", "principal", "version_before", "version_after", "content_hash", "changes", "duration", "error", "failed_observer", "validation_errors", "started_at", "source", "source_path", "restart_id")
    RELOAD_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    VERSION_BEFORE_FIELD_NUMBER: _ClassVar[int]
    VERSION_AFTER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILED_OBSERVER_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ERRORS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    RESTART_ID_FIELD_NUMBER: _ClassVar[int]
    reload_id: str
    result: ReloadResult
    trigger: ReloadTrigger
    principal: str
    version_before: int
    version_after: int
    content_hash: str
    changes: _containers.RepeatedCompositeFieldContainer[ConfigChange]
    duration: _duration_pb2.Duration
    error: str
    failed_observer: str
    validation_errors: _containers.RepeatedCompositeFieldContainer[ConfigValidationError]
    started_at: _timestamp_pb2.Timestamp
    source: ConfigSource
    source_path: str
    restart_id: str
    def __init__(self, reload_id: _Optional[str] = ..., result: _Optional[_Union[ReloadResult, str]] = ..., trigger: _Optional[_Union[ReloadTrigger, str]] = ..., principal: _Optional[str] = ..., version_before: _Optional[int] = ..., version_after: _Optional[int] = ..., content_hash: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[ConfigChange, _Mapping]]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., error: _Optional[str] = ..., failed_observer: _Optional[str] = ..., validation_errors: _Optional[_Iterable[_Union[ConfigValidationError, _Mapping]]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[_Union[ConfigSource, str]] = ..., source_path: _Optional[str] = ..., restart_id: _Optional[str] = ...) -> None: ...

class ListReloadEventsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "results", "trigger")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    results: _containers.RepeatedScalarFieldContainer[ReloadResult]
    trigger: ReloadTrigger
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., results: _Optional[_Iterable[_Union[ReloadResult, str]]] = ..., trigger: _Optional[_Union[ReloadTrigger, str]] = ...) -> None: ...

class ListReloadEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ReloadEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[ReloadEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetReloadStatsRequest(_message.Message):
    __slots__ = ("since",)
    SINCE_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReloadResultCount(_message.Message):
    __slots__ = ("result", "count")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    result: ReloadResult
    count: int
    def __init__(self, result: _Optional[_Union[ReloadResult, str]] = ..., count: _Optional[int] = ...) -> None: ...

class GetReloadStatsResponse(_message.Message):
    __slots__ = ("total", "successes", "unchanged", "failures", "refused", "by_result", "last_result", "last_reload_at", "last_success_at", "latency_p50", "latency_p99", "current_version", "oldest_event_at")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    BY_RESULT_FIELD_NUMBER: _ClassVar[int]
    LAST_RESULT_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SUCCESS_AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OLDEST_EVENT_AT_FIELD_NUMBER: _ClassVar[int]
    total: int
    successes: int
    unchanged: int
    failures: int
    refused: int
    by_result: _containers.RepeatedCompositeFieldContainer[ReloadResultCount]
    last_result: ReloadResult
    last_reload_at: _timestamp_pb2.Timestamp
    last_success_at: _timestamp_pb2.Timestamp
    latency_p50: _duration_pb2.Duration
    latency_p99: _duration_pb2.Duration
    current_version: int
    oldest_event_at: _timestamp_pb2.Timestamp
    def __init__(self, total: _Optional[int] = ..., successes: _Optional[int] = ..., unchanged: _Optional[int] = ..., failures: _Optional[int] = ..., refused: _Optional[int] = ..., by_result: _Optional[_Iterable[_Union[ReloadResultCount, _Mapping]]] = ..., last_result: _Optional[_Union[ReloadResult, str]] = ..., last_reload_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_success_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latency_p50: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., latency_p99: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., current_version: _Optional[int] = ..., oldest_event_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchConfigRequest(_message.Message):
    __slots__ = ("results", "include_current")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CURRENT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedScalarFieldContainer[ReloadResult]
    include_current: bool
    def __init__(self, results: _Optional[_Iterable[_Union[ReloadResult, str]]] = ..., include_current: _Optional[bool] = ...) -> None: ...

class WatchConfigResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ReloadEvent
    def __init__(self, event: _Optional[_Union[ReloadEvent, _Mapping]] = ...) -> None: ...
