"""Responses print their enums by name: the Reply view and the ProtoEnum classes, on
messages built here (the live-server side is in test_live_server.py)."""

import pytest
from google.protobuf import struct_pb2

from rebound_client import ProtoEnum, ReboundClient, Reply, enums
from rebound_client.client import enum
from rebound_client.pb import client_command_pb2 as cmd
from rebound_client.pb import common_pb2, health_pb2


def test_enum_fields_print_their_names_and_still_equal_the_constants():
    report = Reply(health_pb2.GetHealthResponse(
        status=health_pb2.SERVING_STATUS_SERVING, pid=1752, generation=1))
    assert isinstance(report.status, ProtoEnum)
    assert f"{report.status} {report.pid} {report.generation}" == "serving 1752 1"
    assert str(report.status) == "serving"
    assert repr(report.status) == "<ServingStatus.SERVING: 1>"
    assert report.status == health_pb2.SERVING_STATUS_SERVING == 1
    assert f"{report.status:d}" == "1"
    assert health_pb2.ServingStatus.Name(report.status) == "SERVING_STATUS_SERVING"


def test_nested_repeated_and_map_fields_are_converted():
    states = [cmd.COMMAND_STATE_ACCEPTED, cmd.COMMAND_STATE_EXECUTION_STARTED,
              cmd.COMMAND_STATE_COMPLETED, cmd.COMMAND_STATE_FAILED]
    listed = Reply(cmd.ListCommandsResponse(
        commands=[cmd.Command(command_id=str(n), state=s, action=common_pb2.ACTION_REBOOT_HOST)
                  for n, s in enumerate(states)]))
    assert " ".join(str(c.state) for c in listed.commands) == (
        "accepted execution_started completed failed")
    assert [c.state for c in listed.commands] == states
    assert {str(c.action) for c in listed.commands} == {"reboot_host"}
    assert isinstance(listed.commands, list) and isinstance(listed.commands[0], Reply)
    # The API has no map fields yet; a well-known type with one shows they become dicts.
    struct = Reply(struct_pb2.Struct(fields={"a": struct_pb2.Value(string_value="x")}))
    assert list(struct.fields) == ["a"] and struct.fields["a"].string_value == "x"

def test_a_number_this_client_does_not_know_stays_an_int():
    command = Reply(cmd.Command(state=999))
    assert command.state == 999 and type(command.state) is int


def test_the_view_passes_the_message_through_and_is_read_only():
    message = cmd.GetCommandResponse(command=cmd.Command(command_id="c1"))
    reply = Reply(message)
    assert reply.message is message
    assert reply == message and reply == Reply(message)
    assert reply.HasField("command") and not reply.command.HasField("expires_at")
    assert reply.SerializeToString() == message.SerializeToString()
    assert 'command_id: "c1"' in str(reply)
    with pytest.raises(AttributeError, match="read-only"):
        reply.command = None


def test_enum_classes_round_trip_with_the_input_names():
    action = enums.of(common_pb2.Action)
    assert [m.name for m in action] == ["UNSPECIFIED", "REBOOT_HOST", "SHUTDOWN_HOST",
                                        "RESTART_APP"]
    assert enums.of(common_pb2.Action) is action
    for value in action:
        assert enum(common_pb2.Action, str(value)) == value
    with pytest.raises(ValueError, match="not one of reboot_host, shutdown_host, restart_app"):
        enum(common_pb2.Action, "reboot")


def test_helpers_return_views(recorder):
    with ReboundClient(recorder.address) as client:
        report = client.health()
        updates = list(client.watch_commands())
    assert isinstance(report, Reply) and str(report.status) == "unspecified"
    assert [type(u) for u in updates] == [Reply]
