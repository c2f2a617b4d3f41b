"""``Reply``: a read-only view of a response message whose enum fields print their names.

The helpers of :class:`rebound_client.ReboundClient` return a ``Reply`` around the response
message. Reading a field gives what protobuf gives, except that an enum field is a
:class:`rebound_client.enums.ProtoEnum` member (``print(report.status)`` shows ``serving``,
not ``1``) and a message field is again a ``Reply``; repeated fields are lists and map
fields dicts of such values. Members are ints, so comparisons with the generated constants
hold. Everything else of the message (``HasField``, ``WhichOneof``, ``SerializeToString``,
constants) is passed through, and ``.message`` is the message itself.

Owns only this presentation; it never changes or copies the message.
"""

from __future__ import annotations

from typing import Any, Generic, List, TypeVar

from google.protobuf import text_format
from google.protobuf.message import Message

from .enums import member

M = TypeVar("M", bound=Message)


class Reply(Generic[M]):
    """A read-only view of ``message`` (see the module documentation)."""

    __slots__ = ("_message",)

    def __init__(self, message: M) -> None:
        object.__setattr__(self, "_message", message)

    @property
    def message(self) -> M:
        """The protobuf message this view shows."""
        message: M = object.__getattribute__(self, "_message")
        return message

    def __getattr__(self, name: str) -> Any:
        message = self.message
        value = getattr(message, name)
        field = message.DESCRIPTOR.fields_by_name.get(name)
        return value if field is None else _field(field, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{name}: a Reply is read-only (change .message instead)")

    def __dir__(self) -> List[str]:
        return sorted(set(dir(self.message)) | {"message"})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reply):
            other = other.message
        return isinstance(other, Message) and self.message == other

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return text_format.MessageToString(self.message)

    def __repr__(self) -> str:
        text = text_format.MessageToString(self.message, as_one_line=True)
        return f"Reply({self.message.DESCRIPTOR.name}: {text})"


# Descriptors are typed Any: the stubs give the pure-Python and the upb classes as a union.
def _field(field: Any, value: Any) -> Any:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        target = field.message_type.fields_by_name["value"]
        return {key: _single(target, item) for key, item in value.items()}
    if field.is_repeated:
        return [_single(field, item) for item in value]
    return _single(field, value)


def _single(field: Any, value: Any) -> Any:
    if field.enum_type is not None:
        return member(field.enum_type, value)
    if field.message_type is not None:
        return Reply(value)
    return value
