"""ReboundClient against a real `rebound serve` (started from the built binary)."""

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2 as std_health_pb2
from grpc_health.v1 import health_pb2_grpc as std_health_grpc

from rebound_client import ReboundClient, ReboundError, ServiceNotOfferedError
from rebound_client.pb import health_pb2
from rebound_client._channel import SERVICES
from rebound_client.testing import LocalServer, RecordingServer


def test_health_over_tcp(server):
    with ReboundClient(server.address) as client:
        report = client.health()
    assert report.status == health_pb2.SERVING_STATUS_SERVING
    assert report.pid == server.pid
    assert report.version
    assert "store" in [c.name for c in report.components]
    # Enums come back as members that print their names, not bare ints.
    assert f"{report.status} {report.pid}" == f"serving {server.pid}"
    assert dict((c.name, str(c.status)) for c in report.components)["store"] == "healthy"


@pytest.mark.parametrize("form", ["http", "unix"])
def test_other_address_forms(server, form):
    address = f"http://{server.address}" if form == "http" else server.unix_address
    with ReboundClient(address) as client:
        assert client.health().pid == server.pid


def test_token_is_accepted_by_the_server(server):
    with ReboundClient(server.address, token="any-token") as client:
        assert client.health().status == health_pb2.SERVING_STATUS_SERVING


def test_token_authenticates_against_an_auth_enabled_server(monkeypatch):
    tokens = [("ops", "operator", "py-operator-token")]
    with LocalServer(tokens=tokens) as server:
        with ReboundClient(server.address, token="py-operator-token") as client:
            assert client.health().status == health_pb2.SERVING_STATUS_SERVING
        monkeypatch.setenv("REBOUND_TOKEN", "py-operator-token")
        with ReboundClient(server.address) as client:
            assert client.health().status == health_pb2.SERVING_STATUS_SERVING
        monkeypatch.delenv("REBOUND_TOKEN")
        with ReboundClient(server.address) as client:
            with pytest.raises(ReboundError) as refused:
                client.health()
        assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED


def served(address: str, service: str) -> bool:
    """What the server says about `service` in grpc.health.v1 (NOT_FOUND: not served)."""
    with grpc.insecure_channel(address) as channel:
        try:
            std_health_grpc.HealthStub(channel).Check(
                std_health_pb2.HealthCheckRequest(service=service), timeout=5
            )
            return True
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND, error
            return False


def test_every_service_is_served(server):
    """The server serves all five services of the contract the client is generated from."""
    assert [s for s in SERVICES if not served(server.address, s)] == []


def test_services_a_server_does_not_offer_fail_clearly():
    """Against a server that serves only HealthService (like an older rebound), helpers of
    the other services raise ServiceNotOfferedError naming the service."""
    calls = {
        "rebound.v1.RestartService": lambda c: c.restart(),
        "rebound.v1.ConfigService": lambda c: c.get_config(),
        "rebound.v1.ClientCommandService": lambda c: list(c.watch_commands()),
        "rebound.v1.RecoveryService": lambda c: c.recovery_report(),
    }
    with RecordingServer(services=("rebound.v1.HealthService",)) as old:
        with ReboundClient(old.address) as client:
            client.health()
            for service, call in calls.items():
                with pytest.raises(ServiceNotOfferedError) as caught:
                    call(client)
                assert caught.value.code == grpc.StatusCode.UNIMPLEMENTED
                message = str(caught.value)
                assert f"does not offer {service} yet" in message and old.address in message


def test_config_helpers_end_to_end(server):
    """ConfigService is served: the helpers work against the real reload pipeline."""
    from rebound_client.pb import config_pb2

    with ReboundClient(server.address) as client:
        config = client.get_config()
        assert config.source == config_pb2.CONFIG_SOURCE_FILE
        assert f'listen = "{server.address}"' in config.toml

        invalid = client.validate_config(content="version = 1\n[server]\nbogus = 1\n")
        assert not invalid.valid
        assert invalid.result == config_pb2.RELOAD_RESULT_VALIDATION_FAILED
        assert "server.bogus" in [error.path for error in invalid.errors]

        event = client.reload_config().event
        assert event.result == config_pb2.RELOAD_RESULT_UNCHANGED
        assert event.trigger == config_pb2.RELOAD_TRIGGER_RPC
        history = client.list_reload_events(results=["unchanged"], trigger="rpc")
        assert [e.reload_id for e in history.events][:1] == [event.reload_id]
        assert client.reload_stats().unchanged >= 1

        stream = client.watch_config(include_current=True)
        try:
            assert next(stream).event.reload_id == event.reload_id
        finally:
            stream.close()


def test_recovery_helpers_end_to_end(server):
    """RecoveryService is served: report, cleanup, backup and the audit trail for real."""
    from rebound_client.pb import recovery_pb2

    backup_path = str(server.dir / "backup.db")
    with ReboundClient(server.address) as client:
        report = client.recovery_report().report
        assert report.previous_run == recovery_pb2.PREVIOUS_RUN_FIRST_START
        assert report.pid == server.pid
        listed = client.list_recovery_reports(previous_run="first_start").reports
        assert [r.report_id for r in listed] == [report.report_id]

        cleanup = client.run_cleanup(dry_run=True, retention=3600)
        assert cleanup.dry_run and cleanup.batches == 0

        backup = client.backup(backup_path)
        assert backup.path == backup_path and backup.size_bytes > 0 and len(backup.sha256) == 64
        # Audit events are written in the background after the response: wait for it.
        deadline = time.monotonic() + 10
        while True:
            audit = client.list_audit_events(rpc="/rebound.v1.RecoveryService/")
            rpcs = [e.rpc for e in audit.events]
            if "/rebound.v1.RecoveryService/Backup" in rpcs or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert "/rebound.v1.RecoveryService/Backup" in rpcs
