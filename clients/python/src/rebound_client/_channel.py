"""Building a gRPC channel to a rebound server: address forms, TLS, bearer token, retries.

Owns how a channel is made and nothing about what is called on it. Retries on UNAVAILABLE
are gRPC's own (the ``retryPolicy`` of the service config), never a loop in this package.
"""

from __future__ import annotations

import collections
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import grpc

#: The services of the rebound v1 API (the retry policy applies to all of them).
SERVICES = (
    "rebound.v1.HealthService",
    "rebound.v1.RestartService",
    "rebound.v1.ConfigService",
    "rebound.v1.ClientCommandService",
    "rebound.v1.RecoveryService",
)

#: Methods that are not retried automatically: repeating them after an ambiguous failure
#: could act twice (a second restart, reload, cleanup or backup). Every other method is
#: a read, or idempotent on a key the helpers always set (command_id, rollout_id).
NOT_RETRIED = (
    ("rebound.v1.RestartService", "Restart"),
    ("rebound.v1.RestartService", "RollingRestart"),
    ("rebound.v1.ConfigService", "Reload"),
    ("rebound.v1.RecoveryService", "RunCleanup"),
    ("rebound.v1.RecoveryService", "Backup"),
)

#: Environment variable holding the bearer token when none is passed.
TOKEN_ENV = "REBOUND_TOKEN"

Continuation = Callable[[grpc.ClientCallDetails, Any], Any]

PathOrBytes = Union[str, "os.PathLike[str]", bytes]


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC retry policy for UNAVAILABLE (the server is restarting or draining).

    Attempts include the first call; backoff grows from ``initial_backoff`` by
    ``multiplier`` up to ``max_backoff`` seconds (gRPC adds jitter).
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def service_config(self) -> str:
        """The JSON service config carrying this policy (``grpc.service_config``)."""
        if not 2 <= self.max_attempts <= 5:
            raise ValueError("max_attempts: gRPC allows 2 to 5 attempts")
        policy = {
            "maxAttempts": self.max_attempts,
            "initialBackoff": f"{self.initial_backoff}s",
            "maxBackoff": f"{self.max_backoff}s",
            "backoffMultiplier": self.multiplier,
            "retryableStatusCodes": ["UNAVAILABLE"],
        }
        return json.dumps(
            {
                "methodConfig": [
                    {"name": [{"service": s} for s in SERVICES], "retryPolicy": policy},
                    {"name": [{"service": s, "method": m} for s, m in NOT_RETRIED]},
                ]
            }
        )


@dataclass(frozen=True)
class Target:
    """A parsed server address: the gRPC target string and whether it implies TLS."""

    target: str
    tls: bool


def parse_address(address: str) -> Target:
    """Parse ``host:port``, ``http://host:port``, ``https://host:port`` or ``unix:PATH``."""

    def invalid(reason: str) -> ValueError:
        return ValueError(
            f"invalid address {address!r}: {reason} "
            "(use host:port, http://host:port, https://host:port or unix:PATH)"
        )

    if address.startswith("unix:"):
        path = address[len("unix:") :]
        path = "/" + path.lstrip("/") if path.startswith("//") else path
        if not path:
            raise invalid("empty socket path")
        return Target(f"unix:{path}", tls=False)
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "http", address
    elif scheme not in ("http", "https"):
        raise invalid("unknown scheme")
    rest = rest.rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise invalid("missing port")
    return Target(rest, tls=scheme == "https")


def _read(value: Optional[PathOrBytes]) -> Optional[bytes]:
    if value is None or isinstance(value, bytes):
        return value
    return Path(value).read_bytes()


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call on the channel."""

    def __init__(self, token: str):
        if not token or any(c in token for c in "\r\n"):
            raise ValueError("token: must be non-empty and on one line")
        self._entry = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> _CallDetails:
        metadata = list(details.metadata or []) + [self._entry]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    # The continuation returns a call future (unary) or a call iterator (stream); the stubs
    # name those types for type checking only, so they are Any here.
    def intercept_unary_unary(
        self, continuation: Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: Continuation, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)


def open_channel(
    address: str,
    *,
    token: Optional[str] = None,
    tls: Optional[bool] = None,
    root_certificates: Optional[PathOrBytes] = None,
    client_certificate: Optional[PathOrBytes] = None,
    client_key: Optional[PathOrBytes] = None,
    server_name: Optional[str] = None,
    retry: Optional[RetryPolicy] = RetryPolicy(),
    options: Sequence[Tuple[str, object]] = (),
) -> grpc.Channel:
    """Open a channel to ``address`` (connects lazily, reconnects as needed).

    ``token`` (default ``$REBOUND_TOKEN``) is sent as ``authorization: Bearer …`` on every
    call. TLS is used with an ``https://`` address, ``tls=True`` or any of
    ``root_certificates`` / ``client_certificate`` + ``client_key`` (paths or PEM bytes);
    ``server_name`` overrides the name checked in the server certificate. ``retry`` is
    applied by gRPC through the service config (``None``: no retries). ``options`` are raw
    gRPC channel options.
    """
    target = parse_address(address)
    if (client_certificate is None) != (client_key is None):
        raise ValueError("client_certificate and client_key: give both or neither")
    use_tls = tls if tls is not None else (
        target.tls or root_certificates is not None or client_certificate is not None
    )
    if not use_tls and (root_certificates or client_certificate):
        raise ValueError("tls=False contradicts the certificate options")
    opts = list(options)
    if retry is not None:
        opts += [("grpc.enable_retries", 1), ("grpc.service_config", retry.service_config())]
    else:
        opts += [("grpc.enable_retries", 0)]
    if server_name:
        opts.append(("grpc.ssl_target_name_override", server_name))
    if target.target.startswith("unix:"):
        # gRPC would send the socket path as :authority, which HTTP/2 servers reject.
        opts.append(("grpc.default_authority", "localhost"))
    if use_tls:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(root_certificates),
            private_key=_read(client_key),
            certificate_chain=_read(client_certificate),
        )
        channel = grpc.secure_channel(target.target, credentials, options=opts)
    else:
        channel = grpc.insecure_channel(target.target, options=opts)
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    if token:
        channel = grpc.intercept_channel(channel, BearerToken(token))
    return channel
