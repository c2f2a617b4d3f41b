"""Helpers of RestartService and ClientCommandService against a real server: a hot restart
followed to its end while health is called throughout (the retry policy on UNAVAILABLE
rides it out), and the device-command RPCs on a server without devices."""

import threading

import grpc
import pytest

from rebound_client import ReboundClient, ReboundError, ServerUnavailableError
from rebound_client.pb import restart_pb2
from rebound_client.testing import LocalServer, wait_until

DEVICE = "0b9e6a4e-6f2a-4f7e-9a57-3f1d2c0f5a11"
TERMINAL = {restart_pb2.RESTART_PHASE_COMPLETE, restart_pb2.RESTART_PHASE_FAILED,
            restart_pb2.RESTART_PHASE_ROLLED_BACK}


@pytest.fixture
def fresh_server(rebound_bin):
    with LocalServer(rebound_bin) as server:
        yield server


def follow(client: ReboundClient, restart_id: str) -> list:
    """Every phase WatchRestart reports until the terminal one, calling again when the old
    process ends the stream with UNAVAILABLE (as the proto asks)."""
    phases = []
    while not phases or phases[-1] not in TERMINAL:
        try:
            for update in client.watch_restart(restart_id):
                phases.append(update.restart.phase)
                if update.restart.phase in TERMINAL:
                    break
        except ServerUnavailableError:
            continue
    return phases


def test_hot_restart_while_health_is_called(fresh_server):
    with ReboundClient(fresh_server.address) as client:
        before = client.health()
        readiness = client.prepare_shutdown()
        assert readiness.ready, readiness.blocking_issues

        stop, results = threading.Event(), []

        def keep_calling():
            with ReboundClient(fresh_server.address) as caller:
                while not stop.is_set():
                    try:
                        results.append(caller.health().pid)
                    except ReboundError as error:
                        results.append(error)

        thread = threading.Thread(target=keep_calling)
        thread.start()
        try:
            wait_until("health calls before the restart", lambda: len(results) >= 3)
            started = client.restart(reason="manual_request", drain_timeout=10)
            assert started.restart.phase == restart_pb2.RESTART_PHASE_PREPARING
            phases = follow(client, started.restart_id)
            after = client.health()
            wait_until("health calls after the restart",
                       lambda: results.count(after.pid) >= 3)
        finally:
            stop.set()
            thread.join()

    assert phases[-1] == restart_pb2.RESTART_PHASE_COMPLETE, phases
    assert after.generation == before.generation + 1
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], errors
    assert before.pid in results and after.pid in results

    with ReboundClient(fresh_server.address) as client:
        status = client.restart_status(started.restart_id)
        assert status.restart.outcome == restart_pb2.RESTART_OUTCOME_SUCCEEDED
        history = client.list_restart_events(outcomes=["succeeded"])
        assert [e.restart_id for e in history.events] == [started.restart_id]
        probe = client.test_reconnect(session_id="python-client", timeout=5)
        assert probe.success and probe.generation == after.generation


def test_device_command_rpcs_without_devices(fresh_server):
    with ReboundClient(fresh_server.address) as client:
        assert list(client.list_clients().clients) == []
        assert list(client.list_commands().commands) == []
        assert list(client.list_rollouts().rollouts) == []
        with pytest.raises(ReboundError) as caught:
            client.issue_command(DEVICE, "reboot_host", reason="test")
        # Not a registered device, or no MQTT gateway configured: an answer, not a failure.
        assert caught.value.code in (grpc.StatusCode.NOT_FOUND,
                                     grpc.StatusCode.FAILED_PRECONDITION), caught.value
        with pytest.raises(ReboundError) as caught:
            client.get_command(DEVICE)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(ReboundError) as caught:
            client.start_rollout("restart_app", all_clients=True)
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(ReboundError) as caught:
            client.get_client(DEVICE)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_closing_the_server_stops_its_hot_restart_successor(rebound_bin):
    # The successor leads a process group of its own: closing must find it, or it would
    # outlive the test.
    server = LocalServer(rebound_bin).start()
    try:
        with ReboundClient(server.address) as client:
            before = client.health().pid
            started = client.restart(reason="manual_request", drain_timeout=10)
            assert follow(client, started.restart_id)[-1] == restart_pb2.RESTART_PHASE_COMPLETE
            successor = client.health().pid
        assert successor != before
        assert _running(successor)
    finally:
        server.close()
    wait_until("the successor to exit", lambda: not _running(successor))
