from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_REBOOT_HOST: _ClassVar[Action]
    ACTION_SHUTDOWN_HOST: _ClassVar[Action]
    ACTION_RESTART_APP: _ClassVar[Action]

class SnapshotOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SNAPSHOT_OUTCOME_UNSPECIFIED: _ClassVar[SnapshotOutcome]
    SNAPSHOT_OUTCOME_RESTORED: _ClassVar[SnapshotOutcome]
    SNAPSHOT_OUTCOME_MISSING: _ClassVar[SnapshotOutcome]
    SNAPSHOT_OUTCOME_TAMPERED: _ClassVar[SnapshotOutcome]
    SNAPSHOT_OUTCOME_UNDECRYPTABLE: _ClassVar[SnapshotOutcome]
    SNAPSHOT_OUTCOME_DISABLED: _ClassVar[SnapshotOutcome]
    SNAPSHOT_OUTCOME_UNSUPPORTED_VERSION: _ClassVar[SnapshotOutcome]
ACTION_UNSPECIFIED: Action
ACTION_REBOOT_HOST: Action
ACTION_SHUTDOWN_HOST: Action
ACTION_RESTART_APP: Action
SNAPSHOT_OUTCOME_UNSPECIFIED: SnapshotOutcome
SNAPSHOT_OUTCOME_RESTORED: SnapshotOutcome
SNAPSHOT_OUTCOME_MISSING: SnapshotOutcome
SNAPSHOT_OUTCOME_TAMPERED: SnapshotOutcome
SNAPSHOT_OUTCOME_UNDECRYPTABLE: SnapshotOutcome
SNAPSHOT_OUTCOME_DISABLED: SnapshotOutcome
SNAPSHOT_OUTCOME_UNSUPPORTED_VERSION: SnapshotOutcome
