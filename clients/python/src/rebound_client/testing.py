"""Run a real ``rebound serve`` for tests: a free port, a temp dir, wait until it serves.

For tests of code that talks to rebound (this package's own tests use it too). It starts
the binary named by ``binary`` or the ``REBOUND_BIN`` environment variable; it never fakes
a server. Waiting is on conditions with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping, Optional

import grpc

from ._gen.rebound.v1 import health_pb2, health_pb2_grpc

#: How long starting or stopping may take before a test fails.
DEADLINE = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, check, deadline: float = DEADLINE):
    """Poll ``check()`` until it returns a truthy value, or raise after ``deadline`` s."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {deadline}s waiting for {what}")
        time.sleep(0.02)


class LocalServer:
    """A ``rebound serve`` process in its own temp dir, on a free port.

    ``start()`` may be called again after ``stop()``: the server comes back on the same
    port and socket with the same data, as after a real restart.
    """

    def __init__(
        self,
        binary: Optional[str] = None,
        *,
        unix_socket: bool = False,
        extra_config: str = "",
        env: Optional[Mapping[str, str]] = None,
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
        self.process: Optional[subprocess.Popen] = None
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
        assert self.process is not None, "not started"
        return self.process.pid

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> "LocalServer":
        """Spawn the server and wait until its HealthService reports SERVING."""
        unix = f'unix_socket = "{self.unix_path}"\n' if self.unix_path else ""
        (self.dir / "rebound.toml").write_text(
            f'version = 1\n[server]\nlisten = "{self.address}"\ndrain_timeout = "10s"\n'
            f"{unix}{self.extra_config}\n"
        )
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--config", "rebound.toml"],
                cwd=self.dir,
                env={**os.environ, "RUST_LOG": "info", **self.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_until(f"rebound on {self.address} to serve", self._serving)
        return self

    def _serving(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"rebound exited with {self.process.returncode}:\n{self.logs()}"
            )
        with grpc.insecure_channel(self.address) as channel:
            try:
                report = health_pb2_grpc.HealthServiceStub(channel).GetHealth(
                    health_pb2.GetHealthRequest(), timeout=1
                )
            except grpc.RpcError:
                return False
        return report.status == health_pb2.SERVING_STATUS_SERVING

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the process to exit; returns its exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        return self.process.wait(timeout=DEADLINE)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
