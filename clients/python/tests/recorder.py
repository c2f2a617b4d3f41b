"""A real in-process gRPC server that serves every rebound.v1 method generically and records
what it receives (method, request, metadata).

Used to check what the client puts on the wire — the request a helper builds, the token
metadata, how often the channel's retry policy re-sends — without touching the client.
It answers each call with an empty response (one message for streams), or fails the first
calls of a method with a chosen status.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf.message_factory import GetMessageClass

from rebound_client import pb

MODULES = (pb.health_pb2, pb.restart_pb2, pb.config_pb2, pb.client_command_pb2, pb.recovery_pb2)


@dataclass
class Call:
    method: str
    request: object
    metadata: dict


class Recorder:
    def __init__(self):
        self.calls: list[Call] = []
        self._failures: dict[str, tuple[int, grpc.StatusCode]] = {}
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        for module in MODULES:
            for service in module.DESCRIPTOR.services_by_name.values():
                handlers = {m.name: self._handler(service, m) for m in service.methods}
                self.server.add_generic_rpc_handlers(
                    (grpc.method_handlers_generic_handler(service.full_name, handlers),)
                )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def fail(self, method: str, times: int, code=grpc.StatusCode.UNAVAILABLE):
        """Fail the next ``times`` calls of ``method`` (e.g. "/rebound.v1.HealthService/GetHealth")."""
        self._failures[method] = (times, code)

    def _handler(self, service, method):
        full = f"/{service.full_name}/{method.name}"
        request_cls = GetMessageClass(method.input_type)
        response_cls = GetMessageClass(method.output_type)

        def record(request, context):
            with self._lock:
                self.calls.append(Call(full, request, dict(context.invocation_metadata())))
                times, code = self._failures.get(full, (0, None))
                if times:
                    self._failures[full] = (times - 1, code)
            if times:
                context.abort(code, "recorder: injected failure")

        def unary(request, context):
            record(request, context)
            return response_cls()

        def stream(request, context):
            record(request, context)
            yield response_cls()

        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        return make(
            stream if method.server_streaming else unary,
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )

    def only_call(self) -> Call:
        assert len(self.calls) == 1, f"expected one call, got {[c.method for c in self.calls]}"
        return self.calls[0]

    def __enter__(self) -> "Recorder":
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(grace=None)
