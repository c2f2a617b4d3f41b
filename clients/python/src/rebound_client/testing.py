"""Servers for testing code that talks to rebound (this package's own tests use them too).

- :class:`LocalServer` runs the real ``rebound serve`` (the binary named by ``binary`` or
  ``REBOUND_BIN``) on a free port in a temp dir and waits until it serves.
- :class:`RecordingServer` is an in-process gRPC server that records what a client sends
  (requests, metadata, retries), for checking the wire side of client code.

Waiting is on conditions with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple
from typing import TypeVar

import grpc
from google.protobuf.message_factory import GetMessageClass

from ._gen.rebound.v1 import client_command_pb2, config_pb2, health_pb2, health_pb2_grpc
from ._gen.rebound.v1 import recovery_pb2, restart_pb2

#: How long starting or stopping may take before a test fails.
DEADLINE = 30.0

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(what: str, check: Callable[[], T], deadline: float = DEADLINE) -> T:
    """Poll ``check()`` until it returns a truthy value, or raise after ``deadline`` s."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {deadline}s waiting for {what}")
        time.sleep(0.02)


def _alive(group: int) -> bool:
    """Whether any process of process group ``group`` is still running (zombies, which an
    init that does not reap may leave behind, do not count). Linux: reads /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ..."; comm may contain spaces, so split after ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _successors(pids: Sequence[int]) -> List[int]:
    """The hot-restart successors descending from ``pids``, oldest first. Each successor
    leads a process group of its own and names its predecessor in the ``REBOUND_HANDOVER``
    of its environment. Linux: reads /proc."""
    known = set(pids)
    found: List[int] = []
    while True:
        more = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            pid = int(environ.parent.name)
            if pid in known:
                continue
            try:
                variables = environ.read_bytes().split(b"\0")
            except OSError:
                continue
            for variable in variables:
                if not variable.startswith(b"REBOUND_HANDOVER="):
                    continue
                try:
                    predecessor = json.loads(variable.split(b"=", 1)[1]).get("predecessor_pid")
                except ValueError:
                    predecessor = None
                if predecessor in known:
                    more.append(pid)
        if not more:
            return found
        known.update(more)
        found.extend(sorted(more))


class LocalServer:
    """A ``rebound serve`` process in its own temp dir, on a free port.

    ``start()`` may be called again after ``stop()``: the server comes back on the same
    port and socket with the same data, as after a real restart. Each start runs in a new
    process group; a hot restart's successor leads a group of its own and names its
    predecessor in its environment, so ``stop()`` and ``close()`` find and reach whichever
    process serves at the time.
    """

    def __init__(
        self,
        binary: Optional[str] = None,
        *,
        unix_socket: bool = False,
        extra_config: str = "",
        env: Optional[Mapping[str, str]] = None,
        tokens: Sequence[Tuple[str, str, str]] = (),
    ):
        binary = binary or os.environ.get("REBOUND_BIN")
        if not binary:
            raise RuntimeError("set REBOUND_BIN to the rebound binary (cargo build first)")
        self.binary = Path(binary).resolve()
        if not self.binary.is_file():
            raise RuntimeError(f"{self.binary}: no such file (cargo build first)")
        self.dir = Path(tempfile.mkdtemp(prefix="rebound-"))
        self.port = free_port()
        self.unix_path = self.dir / "rebound.sock" if unix_socket else None
        self.extra_config = extra_config
        self.env = dict(env or {})
        #: (name, role, token) entries: the server gets ``auth.tokens_file`` with them and
        #: the readiness check authenticates with the first.
        self.tokens = list(tokens)
        self.token = self.tokens[0][2] if self.tokens else None
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.groups: List[int] = []
        self.log = self.dir / "server.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def unix_address(self) -> str:
        if self.unix_path is None:
            raise RuntimeError("started without unix_socket=True")
        return f"unix:{self.unix_path}"

    @property
    def pid(self) -> int:
        """The pid of the process this object started (a hot restart's successor differs)."""
        assert self.process is not None, "not started"
        return self.process.pid

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> "LocalServer":
        """Spawn the server and wait until its HealthService reports SERVING."""
        unix = f'unix_socket = "{self.unix_path}"\n' if self.unix_path else ""
        auth = ""
        if self.tokens:
            (self.dir / "tokens.toml").write_text(
                "".join(
                    f'[[tokens]]\nname = "{name}"\nrole = "{role}"\n'
                    f'sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"\n'
                    for name, role, token in self.tokens
                )
            )
            auth = '[auth]\ntokens_file = "tokens.toml"\n'
        (self.dir / "rebound.toml").write_text(
            # http_listen off: parallel test servers must not meet on its default port.
            f'version = 1\n[server]\nlisten = "{self.address}"\nhttp_listen = ""\n'
            f'drain_timeout = "10s"\n'
            f"{unix}{self.extra_config}\n{auth}"
        )
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--config", "rebound.toml"],
                cwd=self.dir,
                # Tests restart back to back: no per-principal restart limit unless asked.
                env={
                    **os.environ,
                    "RUST_LOG": "info",
                    "REBOUND_RATE_LIMIT__RESTARTS_PER_MINUTE": "0",
                    **self.env,
                },
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self.groups.append(self.process.pid)
        wait_until(f"rebound on {self.address} to serve", self._serving)
        return self

    def _serving(self) -> bool:
        process = self.process
        assert process is not None, "not started"
        if process.poll() is not None and not _alive(process.pid):
            raise RuntimeError(f"rebound exited with {process.returncode}:\n{self.logs()}")
        with grpc.insecure_channel(self.address) as channel:
            try:
                metadata = [("authorization", f"Bearer {self.token}")] if self.token else None
                report = health_pb2_grpc.HealthServiceStub(channel).GetHealth(
                    health_pb2.GetHealthRequest(), timeout=1, metadata=metadata
                )
            except grpc.RpcError:
                return False
        return bool(report.status == health_pb2.SERVING_STATUS_SERVING)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to the serving process (and its process group) and wait until every
        process of the group has exited."""
        if self.process is None:
            return
        groups = [self.groups[-1], *_successors([self.groups[-1]])]
        for group in groups:
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=DEADLINE)
        wait_until(
            f"process groups {groups} to exit", lambda: not any(_alive(g) for g in groups)
        )

    def close(self) -> None:
        for group in [*self.groups, *_successors(self.groups)]:
            if _alive(group):
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.process is not None:
            self.process.wait(timeout=DEADLINE)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


_MODULES = (health_pb2, restart_pb2, config_pb2, client_command_pb2, recovery_pb2)


@dataclass
class Call:
    """One call a :class:`RecordingServer` received."""

    method: str
    request: object
    metadata: Dict[str, Any]


class RecordingServer:
    """A real in-process gRPC server for testing client code: it serves every method of
    the rebound.v1 services named in ``services`` (default: all five) generically, records
    what it receives (method, request, metadata) and answers each call with an empty
    response (one message for streams), or fails the first calls of a method with a chosen
    status. Services left out answer UNIMPLEMENTED, like an older server.
    """

    def __init__(self, services: Optional[Tuple[str, ...]] = None) -> None:
        self.calls: List[Call] = []
        self._failures: Dict[str, Tuple[int, grpc.StatusCode]] = {}
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        for module in _MODULES:
            for service in module.DESCRIPTOR.services_by_name.values():
                if services is not None and service.full_name not in services:
                    continue
                handlers = {m.name: self._handler(service, m) for m in service.methods}
                self.server.add_generic_rpc_handlers(
                    (grpc.method_handlers_generic_handler(service.full_name, handlers),)
                )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def fail(
        self, method: str, times: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    ) -> None:
        """Fail the next ``times`` calls of ``method`` (e.g. "/rebound.v1.HealthService/GetHealth")."""
        self._failures[method] = (times, code)

    # Descriptors and messages are built at run time from the descriptor pool: Any here.
    def _handler(self, service: Any, method: Any) -> grpc.RpcMethodHandler[Any, Any]:
        full = f"/{service.full_name}/{method.name}"
        request_cls = GetMessageClass(method.input_type)
        response_cls = GetMessageClass(method.output_type)

        def record(request: Any, context: grpc.ServicerContext) -> None:
            with self._lock:
                self.calls.append(Call(full, request, dict(context.invocation_metadata())))
                times, code = self._failures.get(full, (0, grpc.StatusCode.OK))
                if times:
                    self._failures[full] = (times - 1, code)
            if times:
                context.abort(code, "recorder: injected failure")

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            record(request, context)
            return response_cls()

        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            record(request, context)
            yield response_cls()

        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        return make(
            stream if method.server_streaming else unary,
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )

    def only_call(self) -> Call:
        assert len(self.calls) == 1, f"expected one call, got {[c.method for c in self.calls]}"
        return self.calls[0]

    def __enter__(self) -> "RecordingServer":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=None)
