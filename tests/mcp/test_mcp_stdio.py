"""rebound-mcp driven by the official MCP Python SDK over stdio, against a real rebound
server: tools and schemas, health, clear tool errors, and a session that survives the
server going away and coming back."""

import asyncio
import sys
import time
from contextlib import asynccontextmanager

import pytest
from jsonschema import Draft202012Validator
from mcp import ClientSession, StdioServerParameters, stdio_client

from rebound_client.testing import LocalServer, RecordingServer

TOOLS = {
    "orchestrator_restart_server",
    "orchestrator_health_check",
    "orchestrator_shutdown_prepare",
    "orchestrator_restart_status",
    "orchestrator_reconnect_test",
    "config_validate",
    "config_reload",
    "clients_list",
    "clients_count",
    "command_issue",
    "command_status",
    "rollout_start",
    "rollout_status",
    "recovery_report",
}
DEVICE = "0b9e6a4e-6f2a-4f7e-9a57-3f1d2c0f5a11"
QUIET = {"include_reboot_readiness": False, "include_connection_status": False,
         "include_database_status": False}


@asynccontextmanager
async def mcp(mcp_bin, address, *args, log=None):
    """An initialized MCP session with rebound-mcp (its stderr to `log` when given)."""
    params = StdioServerParameters(command=mcp_bin, args=["--addr", address, *args])
    errlog = open(log, "w") if log else sys.stderr
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def text(result) -> str:
    return "\n".join(block.text for block in result.content)


def test_tools_are_listed_with_schemas(server, mcp_bin):
    async def run():
        async with mcp(mcp_bin, server.address) as session:
            return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in asyncio.run(run())}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        schema = tool.input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False, tool.name
        for name, prop in schema["properties"].items():
            assert prop.get("description") or "$ref" in prop, f"{tool.name}.{name}"

    restart = tools["orchestrator_restart_server"].input_schema["properties"]
    assert (restart["timeout"]["minimum"], restart["timeout"]["maximum"]) == (10, 300)
    assert restart["timeout"]["default"] == 30
    assert restart["graceful"]["default"] is True and restart["preserve_state"]["default"] is True
    reasons = tools["orchestrator_restart_server"].input_schema["$defs"]["RestartReason"]["enum"]
    assert reasons == ["configuration_update", "schema_migration", "error_recovery",
                       "manual_request", "emergency_shutdown"]
    health = tools["orchestrator_health_check"]
    assert {k: v["default"] for k, v in health.input_schema["properties"].items()} == {
        "include_reboot_readiness": True, "include_connection_status": True,
        "include_database_status": True}
    assert health.annotations.read_only_hint is True
    assert tools["orchestrator_restart_server"].annotations.destructive_hint is True
    issue = tools["command_issue"].input_schema
    assert set(issue["required"]) == {"client_uuid", "action"}
    assert issue["properties"]["expires_in_seconds"]["maximum"] == 86400


def schema_problems(schema, at=""):
    """What keeps `schema` from being portable: a type written as an array, a null type, or
    OpenAPI's `nullable` (JSON pointers to each)."""
    problems = []
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), list):
            problems.append(f"{at}/type is an array: {schema['type']}")
        if schema.get("type") == "null" or "nullable" in schema:
            problems.append(f"{at}: nullable")
        for key, value in schema.items():
            problems += schema_problems(value, f"{at}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            problems += schema_problems(value, f"{at}/{i}")
    return problems


# Calls that succeed on a real server without devices, covering each option that changes
# the shape of the structured content.
SUCCEEDING = [
    ("orchestrator_health_check", {}),
    ("orchestrator_health_check", QUIET),
    ("orchestrator_shutdown_prepare", {}),
    ("orchestrator_shutdown_prepare", {"check_active_tasks": False, "check_database_state": False,
                                       "check_client_connections": False}),
    ("orchestrator_restart_status", {"include_history": True, "include_error_details": False}),
    ("orchestrator_reconnect_test", {}),
    ("orchestrator_reconnect_test", {"include_buffer_status": False,
                                     "include_reconnection_stats": False}),
    ("config_validate", {"content": "version = 1\n[server]\nbogus = 1\n"}),
    ("config_reload", {}),
    ("clients_list", {"page_size": 5}),
    ("clients_count", {}),
    ("clients_count", {"group": "lab", "uuid_prefix": "0"}),
    ("recovery_report", {}),
]


def test_every_tool_declares_a_portable_output_schema_that_real_results_match(server, mcp_bin):
    async def run():
        async with mcp(mcp_bin, server.address) as session:
            tools = (await session.list_tools()).tools
            return tools, [(name, await session.call_tool(name, args))
                           for name, args in SUCCEEDING]

    tools, results = asyncio.run(run())
    tools = {tool.name: tool for tool in tools}
    assert sorted(name for name, tool in tools.items() if not tool.output_schema) == []
    for name, tool in tools.items():
        assert tool.output_schema["type"] == "object", name
        Draft202012Validator.check_schema(tool.output_schema)
        assert schema_problems(tool.input_schema) == [], name
        assert schema_problems(tool.output_schema) == [], name
    for name, result in results:
        assert not result.is_error, (name, text(result))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in
                  Draft202012Validator(tools[name].output_schema).iter_errors(
                      result.structured_content)]
        assert errors == [], (name, result.structured_content)
    # The schemas say what is there: a field the server always writes is required.
    health = tools["orchestrator_health_check"].output_schema
    assert health["required"] == ["health"]
    assert "pid" in health["properties"]["health"]["required"]


def test_clients_count_answers_every_count_in_one_call(server, mcp_bin):
    async def run():
        async with mcp(mcp_bin, server.address) as session:
            return (await session.call_tool("clients_count", {}),
                    await session.call_tool("clients_count", {"bogus": 1}))

    counted, bad = asyncio.run(run())
    assert not counted.is_error, text(counted)
    data = counted.structured_content
    assert {k: data[k] for k in ("total", "online", "offline", "crashed", "service_failed")} == {
        "total": 0, "online": 0, "offline": 0, "crashed": 0, "service_failed": 0}, data
    assert text(counted).startswith("0 devices: 0 online, 0 offline, 0 crashed, "
                                    "0 with a failed service (counted at "), text(counted)
    assert bad.is_error and "bogus" in text(bad), text(bad)


def test_health_check(server, mcp_bin):
    async def run():
        async with mcp(mcp_bin, server.address) as session:
            return (await session.call_tool("orchestrator_health_check", {}),
                    await session.call_tool("orchestrator_health_check", QUIET))

    full, quiet = asyncio.run(run())
    assert not full.is_error, text(full)
    assert "status      serving" in text(full)
    data = full.structured_content
    assert data["health"]["status"] == "SERVING_STATUS_SERVING"
    assert data["health"]["pid"] == server.pid
    assert data["database"]["name"] == "store"
    assert data["database"]["status"] == "COMPONENT_STATUS_HEALTHY"
    assert data["connection"]["buffer"]["capacity"] == 100
    assert data["connection"]["addr"] == server.address
    assert data["reboot_readiness"]["ready"] is True, data["reboot_readiness"]
    assert data["connection"]["reconnect_test"]["success"] is True
    assert not quiet.is_error
    assert set(quiet.structured_content) == {"health"}


# One call per tool of the services besides HealthService (read-only on a real server).
CALLS = {
    "orchestrator_shutdown_prepare": ("rebound.v1.RestartService", {}),
    "orchestrator_restart_status": ("rebound.v1.RestartService", {"include_history": True}),
    "orchestrator_reconnect_test": ("rebound.v1.RestartService", {}),
    "config_validate": ("rebound.v1.ConfigService", {"content": "version = 1\n"}),
    "clients_list": ("rebound.v1.ClientCommandService", {}),
    "clients_count": ("rebound.v1.ClientCommandService", {}),
    "command_status": ("rebound.v1.ClientCommandService", {"command_id": DEVICE}),
    "rollout_status": ("rebound.v1.ClientCommandService", {"rollout_id": DEVICE}),
    "recovery_report": ("rebound.v1.RecoveryService", {}),
}


def test_every_tool_reaches_its_service(server, mcp_bin):
    async def run():
        async with mcp(mcp_bin, server.address) as session:
            return {name: await session.call_tool(name, args) for name, (_, args) in CALLS.items()}

    for name, result in asyncio.run(run()).items():
        assert "does not offer" not in text(result), (name, text(result))
        assert not result.is_error or result.structured_content["error"]["code"] == "NOT_FOUND", (
            name, text(result))


def test_tools_of_services_a_server_does_not_offer_fail_clearly(mcp_bin):
    """Against a server that serves only HealthService (like an older rebound)."""
    calls = {**CALLS, "orchestrator_restart_server": ("rebound.v1.RestartService", {}),
             "command_issue": ("rebound.v1.ClientCommandService",
                               {"client_uuid": DEVICE, "action": "restart_app"})}

    async def run(address):
        async with mcp(mcp_bin, address) as session:
            health = await session.call_tool("orchestrator_health_check", {})
            return health, {name: await session.call_tool(name, args)
                            for name, (_, args) in calls.items()}

    with RecordingServer(services=("rebound.v1.HealthService",)) as old:
        health, results = asyncio.run(run(old.address))
    assert not health.is_error, text(health)
    readiness = health.structured_content["reboot_readiness"]["unavailable"]
    assert "does not offer rebound.v1.RestartService yet" in readiness
    for name, (service, _) in calls.items():
        result = results[name]
        assert result.is_error, (name, text(result))
        assert f"does not offer {service} yet" in text(result), text(result)
        assert result.structured_content["error"]["code"] == "UNIMPLEMENTED"


def test_invalid_arguments_are_tool_errors_naming_the_argument(server, mcp_bin):
    async def run():
        async with mcp(mcp_bin, server.address) as session:
            return (
                await session.call_tool("orchestrator_restart_server", {"timeout": 5}),
                await session.call_tool("rollout_start", {"action": "reboot_host", "group": "a",
                                                          "all_clients": True}),
            )

    restart, rollout = asyncio.run(run())
    assert restart.is_error and "timeout: must be between 10 and 300 seconds" in text(restart)
    assert rollout.is_error and "give exactly one target" in text(rollout)


async def wait_log(path, needle: str, count: int, watch: asyncio.Task, deadline: float = 30):
    """Wait until rebound-mcp's log holds `needle` `count` times (a condition, not a sleep);
    fail at once if `watch` ends meanwhile (its exception is the reason)."""
    end = time.monotonic() + deadline
    while path.read_text().count(needle) < count:
        if watch.done():
            watch.result()
            pytest.fail(f"{watch.get_name()} ended early")
        assert time.monotonic() < end, f"{count} x {needle!r} not logged:\n{path.read_text()}"
        await asyncio.sleep(0.02)


def test_session_survives_a_server_restart(server, mcp_bin, tmp_path):
    """Calls made while the server is stopped are held and succeed once it is back on the
    same port; calls made continuously across the stop and start all succeed."""
    log = tmp_path / "mcp.log"

    async def health(session):
        result = await session.call_tool("orchestrator_health_check", QUIET)
        assert not result.is_error, text(result)
        return result.structured_content["health"]["pid"]

    async def run():
        async with mcp(mcp_bin, server.address, "--call-deadline", "60s", log=log) as session:
            first = await health(session)
            stop = asyncio.Event()
            loop_pids = []

            async def keep_calling():
                while not stop.is_set():
                    loop_pids.append(await health(session))

            loop = asyncio.create_task(keep_calling(), name="keep_calling")
            await asyncio.to_thread(server.stop)  # SIGTERM, wait for the exit
            # The server is gone: these 5 calls and the loop's current one are held.
            held = [asyncio.create_task(health(session)) for _ in range(5)]
            await wait_log(log, "holding the call", 6, watch=loop)
            assert not any(task.done() for task in held)
            await asyncio.to_thread(server.start)  # same port, same data
            new_pids = await asyncio.wait_for(asyncio.gather(*held), timeout=60)
            stop.set()
            await asyncio.wait_for(loop, timeout=60)
            buffer = await session.call_tool(
                "orchestrator_health_check",
                {**QUIET, "include_connection_status": True})
            return first, new_pids, loop_pids, buffer.structured_content["connection"]["buffer"]

    first, new_pids, loop_pids, buffer = asyncio.run(run())
    assert set(new_pids) == {server.pid} and server.pid != first
    assert loop_pids and set(loop_pids) <= {first, server.pid}
    assert loop_pids[-1] == server.pid
    assert buffer["held_total"] >= 6 and buffer["recovered_total"] == buffer["held_total"]
    assert buffer["expired_total"] == 0 and buffer["rejected_total"] == 0


def test_a_server_gone_past_the_call_deadline_is_a_clear_error(server, mcp_bin):
    async def run():
        async with mcp(mcp_bin, server.address, "--call-deadline", "1s") as session:
            assert not (await session.call_tool("orchestrator_health_check", QUIET)).is_error
            await asyncio.to_thread(server.stop)
            started = time.monotonic()
            result = await session.call_tool("orchestrator_health_check", QUIET)
            return result, time.monotonic() - started

    result, took = asyncio.run(run())
    assert result.is_error
    assert f"the rebound server at {server.address} was unreachable for" in text(result)
    assert "call deadline of 1s" in text(result)
    assert result.structured_content["error"]["kind"] == "unreachable"
    assert 1.0 <= took < 15, took


def test_config_tools_end_to_end(server, mcp_bin):
    """ConfigService is served: config_validate and config_reload run for real."""

    async def run():
        async with mcp(mcp_bin, server.address) as session:
            return (
                await session.call_tool("config_validate",
                                        {"content": "version = 1\n[server]\nbogus = 1\n"}),
                await session.call_tool("config_validate", {}),
                await session.call_tool("config_reload", {}),
            )

    invalid, own, reload = asyncio.run(run())
    assert not invalid.is_error, text(invalid)
    assert invalid.structured_content["valid"] is False
    assert "candidate is INVALID" in text(invalid) and "server.bogus" in text(invalid)
    assert not own.is_error and own.structured_content["valid"] is True, text(own)
    assert not reload.is_error, text(reload)
    assert reload.structured_content["event"]["result"] == "RELOAD_RESULT_UNCHANGED"
    assert ": unchanged" in text(reload)


def test_recovery_report_end_to_end(server, mcp_bin):
    """RecoveryService is served: recovery_report reads the server's start-up report."""

    async def run():
        async with mcp(mcp_bin, server.address) as session:
            return await session.call_tool("recovery_report", {})

    result = asyncio.run(run())
    assert not result.is_error, text(result)
    report = result.structured_content["report"]
    assert report["previous_run"] == "PREVIOUS_RUN_FIRST_START" and report["pid"] == server.pid
    assert "previous run first_start" in text(result)


def test_session_survives_a_hot_restart(server, mcp_bin):
    """The issue's scenario: a restart is requested through the tools and health is called
    repeatedly while it happens; every call succeeds and the session has reconnected."""

    async def run():
        async with mcp(mcp_bin, server.address) as session:
            assert not (await session.call_tool("orchestrator_reconnect_test", {})).is_error
            before = await session.call_tool("orchestrator_health_check", QUIET)
            stop, results = asyncio.Event(), []

            async def keep_calling():
                while not stop.is_set():
                    results.append(await session.call_tool("orchestrator_health_check", QUIET))

            loop = asyncio.create_task(keep_calling(), name="keep_calling")
            restart = await session.call_tool(
                "orchestrator_restart_server", {"timeout": 10, "reason": "manual_request"})
            assert not restart.is_error, text(restart)
            restart_id = restart.structured_content["restart_id"]
            end = time.monotonic() + 60
            while True:
                status = await session.call_tool("orchestrator_restart_status", {})
                assert not status.is_error, text(status)
                event = status.structured_content["restart"]
                if event["restart_id"] == restart_id and event["outcome"] != "RESTART_OUTCOME_UNSPECIFIED":
                    break
                assert time.monotonic() < end and not loop.done(), text(status)
                await asyncio.sleep(0.05)
            while not any(r.structured_content["health"]["pid"] == event["new_pid"]
                          for r in results if not r.is_error):
                assert time.monotonic() < end and not loop.done()
                await asyncio.sleep(0.05)
            stop.set()
            await loop
            probe = await session.call_tool("orchestrator_reconnect_test", {})
            return before.structured_content["health"], event, results, probe

    before, event, results, probe = asyncio.run(run())
    assert event["outcome"] == "RESTART_OUTCOME_SUCCEEDED", event
    assert [text(r) for r in results if r.is_error] == []
    pids = {r.structured_content["health"]["pid"] for r in results}
    assert before["pid"] in pids or event["new_pid"] in pids
    assert event["old_pid"] == before["pid"] and event["generation_after"] == before["generation"] + 1
    assert not probe.is_error, text(probe)
    assert probe.structured_content["session"]["reconnected_across_restart"] is True
    assert probe.structured_content["generation"] == before["generation"] + 1


def test_the_token_is_sent_to_an_auth_enabled_server(rebound_bin, mcp_bin):
    token = "mcp-viewer-token"
    with LocalServer(rebound_bin, tokens=[("assistant", "viewer", token)]) as server:
        async def run():
            async with mcp(mcp_bin, server.address, "--token", token) as session:
                allowed = await session.call_tool("orchestrator_health_check", QUIET)
                refused = await session.call_tool("config_reload", {})
            async with mcp(mcp_bin, server.address) as session:
                anonymous = await session.call_tool("orchestrator_health_check", QUIET)
            return allowed, refused, anonymous

        allowed, refused, anonymous = asyncio.run(run())
    assert not allowed.is_error, text(allowed)
    assert refused.is_error and "PERMISSION_DENIED" in text(refused), text(refused)
    assert anonymous.is_error and "UNAUTHENTICATED" in text(anonymous), text(anonymous)
    assert "REBOUND_TOKEN" in text(anonymous), text(anonymous)
