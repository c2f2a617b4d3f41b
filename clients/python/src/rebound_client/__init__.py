"""Python client for the rebound v1 gRPC API.

``ReboundClient`` wraps the generated stubs (``rebound_client.pb`` re-exports the message
modules) with address parsing, TLS, a bearer token and gRPC-native retries::

    from rebound_client import ReboundClient

    with ReboundClient("127.0.0.1:50051") as client:
        print(client.health().status)
"""

from . import pb
from ._channel import RetryPolicy, parse_address
from .client import ReboundClient
from .errors import ReboundError, ServerUnavailableError, ServiceNotOfferedError

__all__ = [
    "ReboundClient",
    "ReboundError",
    "RetryPolicy",
    "ServerUnavailableError",
    "ServiceNotOfferedError",
    "parse_address",
    "pb",
]
