"""Fixtures for the rebound-mcp tests: the built binaries (REBOUND_BIN, REBOUND_MCP_BIN,
default target/debug/) and a real rebound server."""

import os
from pathlib import Path

import pytest

from rebound_client.testing import LocalServer

REPO = Path(__file__).resolve().parents[2]


def _binary(env: str, name: str) -> str:
    binary = os.environ.get(env) or str(REPO / "target/debug" / name)
    if not Path(binary).is_file():
        pytest.fail(f"{binary}: not built; run `cargo build` or set {env}")
    return binary


@pytest.fixture(scope="session")
def rebound_bin() -> str:
    return _binary("REBOUND_BIN", "rebound")


@pytest.fixture(scope="session")
def mcp_bin() -> str:
    return _binary("REBOUND_MCP_BIN", "rebound-mcp")


@pytest.fixture
def server(rebound_bin):
    with LocalServer(rebound_bin) as server:
        yield server
