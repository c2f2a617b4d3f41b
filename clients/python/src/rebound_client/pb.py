"""The generated message and stub modules of rebound.v1, under short names::

    from rebound_client.pb import health_pb2, client_command_pb2
"""

from ._gen.rebound.v1 import (
    client_command_pb2,
    client_command_pb2_grpc,
    common_pb2,
    config_pb2,
    config_pb2_grpc,
    health_pb2,
    health_pb2_grpc,
    recovery_pb2,
    recovery_pb2_grpc,
    restart_pb2,
    restart_pb2_grpc,
)

__all__ = [
    "client_command_pb2",
    "client_command_pb2_grpc",
    "common_pb2",
    "config_pb2",
    "config_pb2_grpc",
    "health_pb2",
    "health_pb2_grpc",
    "recovery_pb2",
    "recovery_pb2_grpc",
    "restart_pb2",
    "restart_pb2_grpc",
]
