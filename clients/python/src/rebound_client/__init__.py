"""Python client for the rebound v1 gRPC API.

``ReboundClient`` wraps the generated stubs (``rebound_client.pb`` re-exports the message
modules) with address parsing, TLS, a bearer token and gRPC-native retries. Its helpers
return each response as a :class:`Reply`, whose enum fields print their names::

    from rebound_client import ReboundClient

    with ReboundClient("127.0.0.1:50051") as client:
        print(client.health().status)    # serving
"""

from . import enums, pb
from ._channel import RetryPolicy, parse_address
from .client import ReboundClient
from .enums import ProtoEnum
from .errors import ReboundError, ServerUnavailableError, ServiceNotOfferedError
from .reply import Reply

__all__ = [
    "ProtoEnum",
    "ReboundClient",
    "ReboundError",
    "Reply",
    "RetryPolicy",
    "ServerUnavailableError",
    "ServiceNotOfferedError",
    "enums",
    "parse_address",
    "pb",
]
