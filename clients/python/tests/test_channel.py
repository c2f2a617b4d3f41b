"""What the channel puts on the wire: token metadata and the gRPC retry policy, observed by
a real in-process gRPC server (rebound_client.testing.RecordingServer)."""

import json

import pytest

from rebound_client import ReboundClient, RetryPolicy, ServerUnavailableError, parse_address
from rebound_client._channel import NOT_RETRIED


def test_token_argument_is_sent_as_bearer_metadata(recorder):
    with ReboundClient(recorder.address, token="s3cret") as client:
        client.health()
        list(client.watch_commands(include_current=True))
    assert [c.metadata.get("authorization") for c in recorder.calls] == ["Bearer s3cret"] * 2


def test_token_from_environment(recorder, monkeypatch):
    monkeypatch.setenv("REBOUND_TOKEN", "from-env")
    with ReboundClient(recorder.address) as client:
        client.health()
    assert recorder.only_call().metadata["authorization"] == "Bearer from-env"


def test_no_token_no_authorization_header(recorder, monkeypatch):
    monkeypatch.delenv("REBOUND_TOKEN", raising=False)
    with ReboundClient(recorder.address) as client:
        client.health()
    assert "authorization" not in recorder.only_call().metadata


def test_raw_stubs_carry_the_token_too(recorder):
    from rebound_client.pb import health_pb2

    with ReboundClient(recorder.address, token="t") as client:
        client.health_stub.GetHealth(health_pb2.GetHealthRequest())
    assert recorder.only_call().metadata["authorization"] == "Bearer t"


def test_unavailable_is_retried_by_the_channel(recorder):
    recorder.fail("/rebound.v1.HealthService/GetHealth", times=2)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
    with ReboundClient(recorder.address, retry=policy) as client:
        client.health()
    assert len(recorder.calls) == 3


def test_retries_give_up_with_a_clear_error(recorder):
    recorder.fail("/rebound.v1.HealthService/GetHealth", times=10)
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05)
    with ReboundClient(recorder.address, retry=policy) as client:
        with pytest.raises(ServerUnavailableError, match="is unavailable"):
            client.health()
    assert len(recorder.calls) == 2


def test_restart_is_not_retried(recorder):
    recorder.fail("/rebound.v1.RestartService/Restart", times=1)
    with ReboundClient(recorder.address) as client:
        with pytest.raises(ServerUnavailableError):
            client.restart()
    assert len(recorder.calls) == 1


def test_retry_can_be_disabled(recorder):
    recorder.fail("/rebound.v1.HealthService/GetHealth", times=1)
    with ReboundClient(recorder.address, retry=None) as client:
        with pytest.raises(ServerUnavailableError):
            client.health()
    assert len(recorder.calls) == 1


def test_service_config_shape():
    config = json.loads(RetryPolicy().service_config())
    retried, not_retried = config["methodConfig"]
    assert retried["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert len(retried["name"]) == 5
    assert "retryPolicy" not in not_retried
    assert {(n["service"], n["method"]) for n in not_retried["name"]} == set(NOT_RETRIED)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=9).service_config()


@pytest.mark.parametrize(
    "address,target,tls",
    [
        ("127.0.0.1:50051", "127.0.0.1:50051", False),
        ("http://localhost:1", "localhost:1", False),
        ("https://rebound.example:443", "rebound.example:443", True),
        ("unix:/run/rebound.sock", "unix:/run/rebound.sock", False),
        ("unix:///run/rebound.sock", "unix:/run/rebound.sock", False),
        ("[::1]:50051", "[::1]:50051", False),
    ],
)
def test_address_forms(address, target, tls):
    parsed = parse_address(address)
    assert (parsed.target, parsed.tls) == (target, tls)


@pytest.mark.parametrize("address", ["localhost", "unix:", "ftp://h:1", "h:port"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(ValueError, match="use host:port"):
        parse_address(address)


def test_tls_options_are_consistent():
    with pytest.raises(ValueError, match="both or neither"):
        ReboundClient("h:1", client_certificate=b"cert")
    with pytest.raises(ValueError, match="contradicts"):
        ReboundClient("h:1", tls=False, root_certificates=b"ca")
    # A TLS channel is built (lazily: nothing is dialled here).
    ReboundClient("https://h:1", root_certificates=b"-----BEGIN CERTIFICATE-----").close()
