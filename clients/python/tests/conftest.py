"""Fixtures: a real rebound server (the binary from REBOUND_BIN, default
target/debug/rebound) and the in-process recording server."""

import os
from pathlib import Path

import pytest

from rebound_client.testing import LocalServer, RecordingServer

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def rebound_bin() -> str:
    binary = os.environ.get("REBOUND_BIN") or str(REPO / "target/debug/rebound")
    if not Path(binary).is_file():
        pytest.fail(f"{binary}: no rebound binary; run `cargo build` or set REBOUND_BIN")
    return binary


@pytest.fixture(scope="module")
def server(rebound_bin):
    with LocalServer(rebound_bin, unix_socket=True) as server:
        yield server


@pytest.fixture
def recorder():
    with RecordingServer() as recorder:
        yield recorder
