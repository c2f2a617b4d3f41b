"""The rebound.v1 enums as Python ``enum.IntEnum`` classes that print their names.

Protobuf hands enum fields out as bare ints (``print(report.status)`` shows ``1``). The
classes here are built from the same descriptors as the generated code, one per proto enum,
with the type prefix stripped from the member names: ``CommandState.ACCEPTED`` for
``COMMAND_STATE_ACCEPTED``. A member is still the int on the wire, so it compares equal to
the generated constants (``state == client_command_pb2.COMMAND_STATE_ACCEPTED``); ``str()``
and f-strings give the short lower-case name (``accepted``), the form the CLI prints and
:meth:`rebound_client.ReboundClient` helpers accept as input.

Owns the name <-> number mapping of enums on the client side; it builds nothing but enum
classes and does no I/O.
"""

from __future__ import annotations

import enum
from typing import Any, Dict, Union

from google.protobuf.descriptor import EnumDescriptor


class ProtoEnum(enum.IntEnum):
    """Base of every rebound.v1 enum class: an int that prints its short lower-case name."""

    def __str__(self) -> str:
        return self.name.lower()

    def __format__(self, spec: str) -> str:
        # Numeric format specs ("d", "x", ...) still format the number.
        if spec and spec[-1] in "bcdoxXn":
            return int.__format__(int(self), spec)
        return format(str(self), spec)


_TYPES: Dict[str, type[ProtoEnum]] = {}


def prefix(descriptor: EnumDescriptor) -> str:
    """The type prefix of the value names (``COMMAND_STATE_``), read off the zero value
    (``COMMAND_STATE_UNSPECIFIED``) as the API's style guide names it."""
    zero = descriptor.values_by_number[0].name
    return zero[: -len("UNSPECIFIED")] if zero.endswith("UNSPECIFIED") else ""


def enum_type(descriptor: EnumDescriptor) -> type[ProtoEnum]:
    """The ``ProtoEnum`` class of a proto enum (built once per enum)."""
    cached = _TYPES.get(descriptor.full_name)
    if cached is not None:
        return cached
    strip = prefix(descriptor)
    members = [(value.name[len(strip) :], value.number) for value in descriptor.values]
    # Enum's functional API ("Name", [(member, value), ...]), which type checkers cannot follow.
    factory: Any = ProtoEnum
    built: type[ProtoEnum] = factory(
        descriptor.name, members, module=__name__, qualname=descriptor.name
    )
    _TYPES[descriptor.full_name] = built
    return built


def of(wrapper: Any) -> type[ProtoEnum]:
    """The ``ProtoEnum`` class of a generated enum wrapper, e.g.
    ``of(client_command_pb2.CommandState).ACCEPTED``."""
    descriptor: EnumDescriptor = wrapper.DESCRIPTOR
    return enum_type(descriptor)


def member(descriptor: EnumDescriptor, number: int) -> Union[ProtoEnum, int]:
    """``number`` as a member of its enum class; a number this client does not know (the
    server is newer) stays a plain int rather than failing."""
    try:
        return enum_type(descriptor)(number)
    except ValueError:
        return number
