"""Errors raised by :class:`rebound_client.ReboundClient`: one exception per failed RPC.

Owns the translation of ``grpc.RpcError`` into messages a person can act on; it does not
retry or hide anything (the status code and the server's message are kept).
"""

from __future__ import annotations

from typing import Optional

import grpc


class ReboundError(Exception):
    """An RPC failed. ``code`` is the gRPC status code, ``details`` the server's message."""

    def __init__(
        self, method: str, code: grpc.StatusCode, details: Optional[str], address: str
    ) -> None:
        self.method = method
        self.code = code
        self.details = details or ""
        self.address = address
        super().__init__(self._describe())

    def _status(self) -> str:
        """"CODE: message", or "CODE" when the server sent no message."""
        return f"{self.code.name}: {self.details}" if self.details else self.code.name

    def _describe(self) -> str:
        return f"{self.method} failed: {self._status()}"

    @classmethod
    def from_rpc(cls, method: str, error: grpc.RpcError, address: str) -> "ReboundError":
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        kind = {
            grpc.StatusCode.UNIMPLEMENTED: ServiceNotOfferedError,
            grpc.StatusCode.UNAVAILABLE: ServerUnavailableError,
        }.get(code, cls)
        return kind(method, code, details, address)


class ServiceNotOfferedError(ReboundError):
    """UNIMPLEMENTED: the server does not serve this service (or method) yet."""

    def _describe(self) -> str:
        service = self.method.strip("/").split("/")[0]
        return (
            f"the server at {self.address} does not offer {service} yet "
            f"({self.method}: {self._status()}); "
            "upgrade the server or check `grpcurl ... list` for what it serves"
        )


class ServerUnavailableError(ReboundError):
    """UNAVAILABLE after the retry policy gave up: unreachable, restarting or draining."""

    def _describe(self) -> str:
        return (
            f"{self.method}: the server at {self.address} is unavailable "
            f"({self._status()}); it may be down, restarting or draining"
        )
