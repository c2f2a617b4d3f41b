//! The operator console in a real browser (headless Chromium over WebDriver, see
//! `support::browser`) against a real server with authentication, a real Mosquitto and
//! simulated devices: it loads with no browser errors and counts each filter's devices in one
//! call per refresh; a device's service failure shows in
//! the orange panel without a reload and Acknowledge clears it for good; a command's
//! timeline shows its states in order; a bulk restart_app creates no command when the
//! confirmation is cancelled and exactly one per selected device when it is confirmed; a
//! viewer's issue button is disabled and a request forced from the page is refused; the
//! server page shows the audit log to admins only.
//!
//! With `REBOUND_SCREENSHOTS=1` the fleet and device pages are saved under docs/console/.

mod support;

use rebound::proto::v1 as pb;
use serde_json::Value;
use support::auth::{authed, token};
use support::browser::Browser;
use support::device::{Device, Rpc, rpc};
use support::mosquitto::Broker;
use uuid::Uuid;

const FAST: &str = "[commands]\nack_timeout = \"5s\"\n[scheduler]\ntick = \"100ms\"\n";

/// How many `action` commands the devices `uuids` have, read over gRPC.
async fn commands(rpc: &mut Rpc, uuids: &[Uuid], action: pb::Action) -> usize {
    let mut total = 0;
    for uuid in uuids {
        let request = pb::ListCommandsRequest {
            client_uuid: uuid.to_string(),
            action: action as i32,
            ..Default::default()
        };
        total += rpc
            .list_commands(authed("operator", request))
            .await
            .unwrap()
            .into_inner()
            .commands
            .len();
    }
    total
}

/// Sign in to the console at `url` with the token of `role` and wait for the fleet page.
async fn sign_in(browser: &Browser, url: &str, role: &str) {
    browser.sign_in(url, token(role)).await;
}

/// Save a screenshot under docs/console/ when `REBOUND_SCREENSHOTS=1`.
async fn screenshot(browser: &Browser, name: &str) {
    if std::env::var("REBOUND_SCREENSHOTS").as_deref() == Ok("1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console").join(name);
        browser.screenshot(&path).await;
    }
}

/// How many calls of ClientCommandService's `method` the server started, from its /metrics.
async fn started(port: u16, method: &str) -> u64 {
    let (status, text) = support::http::get(port, "/metrics").await.unwrap();
    assert_eq!(status, 200, "{text}");
    let label = format!("grpc_method=\"{method}\"");
    let calls = text.lines().filter(|line| {
        line.starts_with("rebound_grpc_server_started_total{")
            && line.contains("ClientCommandService")
            && line.contains(&label)
    });
    calls.filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok()).sum::<f64>() as u64
}

fn assert_no_errors(errors: Vec<String>) {
    assert!(errors.is_empty(), "browser errors: {errors:#?}");
}

#[tokio::test]
async fn operators_see_failures_live_follow_commands_and_confirm_bulk_actions() {
    let Some(browser) = Browser::start().await else { return };
    let uuids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let config = format!("{}{FAST}", broker.server_config(""));
    let (_dir, server) = support::auth::server(&config, &[]).await;
    let mut rpc = rpc(&server).await;
    let mut devices = Vec::new();
    for uuid in &uuids {
        devices.push(Device::connect(&broker, *uuid).await);
    }
    for uuid in &uuids {
        wait_registered_as_operator(&rpc, *uuid).await;
    }
    let url = format!("http://127.0.0.1:{}/", server.http_port);

    // The console loads, asks for a token, and shows the fleet with no browser error.
    sign_in(&browser, &url, "operator").await;
    browser
        .until(
            "six devices listed",
            "document.querySelectorAll('#fleet-table tr[data-uuid]').length === 6",
        )
        .await;
    assert_no_errors(browser.errors().await);

    // The filters' counts: six devices, all online, none crashed or failed; each refresh asks
    // for them in one CountClients call, beside at most three ListClients (the page, and the
    // two panels when their counts are not zero), not in a ListClients per filter.
    let count = |key: &str| format!("document.querySelector('[data-count=\"{key}\"]').textContent");
    let counts =
        ["all", "online", "offline", "crashed", "service-failed"].map(count).join(" + '/' + ");
    browser.until("the filters' counts", &format!("({counts}) === '6/6/0/0/0'")).await;
    let port = server.http_port;
    let counted = support::wait_for("three refreshes' counts", async || {
        let counted = started(port, "CountClients").await;
        (counted >= 3).then_some(counted)
    })
    .await;
    let listed = started(port, "ListClients").await;
    assert!(listed <= 3 * counted + 3, "{counted} CountClients, {listed} ListClients");

    // A service failure appears in the orange panel within 10 s, without a reload.
    assert_eq!(browser.eval("document.querySelector('#service-failed-panel')").await, Value::Null);
    let failed = uuids[0];
    let failure = r#"{"unit":"infoscreen-app.service","failed_at":"2026-04-05T12:48:10Z"}"#;
    devices[0].publish("service_failed", failure, true).await;
    let started = std::time::Instant::now();
    let row = format!("#service-failed-panel tr[data-uuid='{failed}']");
    browser.element(&row).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    let text = browser.eval(&format!("document.querySelector(\"{row}\").textContent")).await;
    assert!(text.as_str().unwrap().contains("infoscreen-app.service"), "{text}");
    screenshot(&browser, "fleet.png").await;

    // Acknowledge clears it on the server and in the panel, and it stays gone after a reload.
    browser
        .click(&format!("#service-failed-panel button[name=acknowledge][data-uuid='{failed}']"))
        .await;
    browser
        .until("the panel is gone", "document.querySelector('#service-failed-panel') === null")
        .await;
    let client = wait_client_as_operator(&rpc, failed, |c| c.service_failed_unit.is_empty()).await;
    assert!(client.service_failed_at.is_none());
    browser.client.refresh().await.unwrap();
    browser
        .until(
            "the list after the reload",
            "document.querySelectorAll('#fleet-table tr[data-uuid]').length === 6",
        )
        .await;
    // The reloaded page counts no service failure, and shows no panel.
    let count = "document.querySelector('[data-count=\"service-failed\"]').textContent";
    browser.until("the count after the reload", &format!("{count} === '0'")).await;
    assert_eq!(browser.eval("document.querySelector('#service-failed-panel')").await, Value::Null);

    // A command's timeline shows its states in order, live.
    let responder = devices.pop().unwrap();
    let timeline_device = responder.uuid;
    let _responding = responder.respond_forever(false);
    browser.client.goto(&format!("{url}#/device/{timeline_device}")).await.unwrap();
    browser.element("#device-facts dd").await;
    browser
        .until(
            "the issue button is enabled",
            "!document.querySelector('button[name=issue]').disabled",
        )
        .await;
    browser.click("button[name=issue]").await; // restart_app is the first action
    browser.click("dialog.confirm button[name=confirm]").await;
    let done = "#command-history .command[data-state=completed] ol.timeline";
    browser.element(done).await;
    let states = browser
        .eval(&format!("[...document.querySelectorAll('{done} li')].map(li => li.dataset.state)"))
        .await;
    assert_eq!(
        states,
        serde_json::json!(["queued", "published", "accepted", "execution_started", "completed"])
    );
    screenshot(&browser, "device.png").await;
    assert_no_errors(browser.errors().await);

    // Bulk restart_app to five selected devices: cancelled, nothing; confirmed, five.
    let selected = &uuids[..5];
    browser.client.goto(&format!("{url}#/fleet")).await.unwrap();
    browser
        .until(
            "six devices listed",
            "document.querySelectorAll('#fleet-table tr[data-uuid]').length === 6",
        )
        .await;
    for uuid in selected {
        browser.click(&format!("input[name=select][value='{uuid}']")).await;
    }
    browser.until("five selected", "document.querySelector('button[name=issue]').textContent.includes('(5)') && !document.querySelector('button[name=issue]').disabled").await;
    browser.click("button[name=issue]").await;
    browser.element("dialog.confirm input[name=confirm-input]").await;
    browser.click("dialog.confirm button[name=cancel]").await;
    browser.until("the dialog closed", "document.querySelector('dialog.confirm') === null").await;
    assert_eq!(commands(&mut rpc, selected, pb::Action::RestartApp).await, 0);

    browser.click("button[name=issue]").await;
    let input = browser.element("dialog.confirm input[name=confirm-input]").await;
    assert_eq!(
        browser
            .eval("document.querySelector('dialog.confirm button[name=confirm]').disabled")
            .await,
        Value::Bool(true)
    );
    input.send_keys("5").await.unwrap();
    browser.click("dialog.confirm button[name=confirm]").await;
    browser
        .until("five results", "document.querySelectorAll('#fleet-table td.result a').length === 5")
        .await;
    assert_eq!(commands(&mut rpc, selected, pb::Action::RestartApp).await, 5);
    assert_no_errors(browser.errors().await);
    browser.close().await;
}

#[tokio::test]
async fn a_viewer_sees_disabled_buttons_and_a_forced_request_is_refused() {
    let Some(browser) = Browser::start().await else { return };
    let (_dir, server) = support::auth::server("", &[]).await;
    let url = format!("http://127.0.0.1:{}/", server.http_port);
    sign_in(&browser, &url, "viewer").await;
    assert_eq!(browser.eval("document.querySelector('#role').textContent").await, "viewer");
    let device = Uuid::new_v4();
    browser.client.goto(&format!("{url}#/device/{device}")).await.unwrap();
    browser
        .until(
            "the role note",
            "document.querySelector('.commandbar').textContent.includes('only view')",
        )
        .await;
    assert_eq!(
        browser.eval("document.querySelector('button[name=issue]').disabled").await,
        Value::Bool(true)
    );

    // Forced from the page with the viewer's token: the server refuses, with the policy's words.
    let forced = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/rebound.v1.ClientCommandService/IssueCommand', {
               method: 'POST',
               headers: {'content-type': 'application/json',
                         authorization: 'Bearer ' + sessionStorage.getItem('rebound.token')},
               body: JSON.stringify({client_uuid: arguments[0], action: 'ACTION_REBOOT_HOST'}),
             }).then(async r => done([r.status, await r.json()]));",
            vec![Value::String(device.to_string())],
        )
        .await
        .unwrap();
    assert_eq!(forced[0], 403, "{forced}");
    assert_eq!(forced[1]["code"], "PERMISSION_DENIED", "{forced}");
    assert!(forced[1]["message"].as_str().unwrap().contains("needs role operator"), "{forced}");
    // Without a token the gateway refuses as gRPC does.
    let bare = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/rebound.v1.HealthService/GetHealth', {method: 'POST', body: '{}'})
               .then(async r => done([r.status, await r.json()]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bare[0], 401, "{bare}");
    assert_eq!(bare[1]["code"], "UNAUTHENTICATED", "{bare}");
    browser.close().await;
}

/// POST `body` to the gateway's `method` from the page with the tab's token: `[status, json]`.
async fn forced(browser: &Browser, method: &str, body: Value) -> Value {
    browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/' + arguments[0], {
               method: 'POST',
               headers: {'content-type': 'application/json',
                         authorization: 'Bearer ' + sessionStorage.getItem('rebound.token')},
               body: JSON.stringify(arguments[1]),
             }).then(async r => done([r.status, await r.json()]));",
            vec![Value::String(method.to_owned()), body],
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn only_admins_see_the_audit_log() {
    let Some(browser) = Browser::start().await else { return };
    let (_dir, server) = support::auth::server("", &[]).await;
    let url = format!("http://127.0.0.1:{}/", server.http_port);
    let audit = "rebound.v1.RecoveryService/ListAuditEvents";
    let section = "document.querySelector('[data-testid=server-audit]')";

    // A viewer and an operator: the section says "admins only", lists nothing, and the
    // server refuses the call from the page.
    for role in ["viewer", "operator"] {
        browser.client.goto(&url).await.unwrap();
        browser.eval("sessionStorage.clear(), true").await;
        sign_in(&browser, &url, role).await;
        browser.client.goto(&format!("{url}#/server")).await.unwrap();
        browser
            .until(
                &format!("{role}: the audit section says admins only"),
                &format!("{section}.querySelector('[data-testid=audit-admins-only]') !== null"),
            )
            .await;
        browser
            .until(
                &format!("{role}: the generation"),
                "document.querySelector('[data-testid=generation]') !== null",
            )
            .await;
        assert_eq!(
            browser.eval(&format!("{section}.querySelector('[data-testid=audit-events]')")).await,
            Value::Null
        );
        let text = browser.eval(&format!("{section}.textContent")).await;
        assert!(text.as_str().unwrap().contains("Admins only"), "{role}: {text}");
        // The page itself asked for nothing it may not have.
        assert_no_errors(browser.errors().await);
        let refused = forced(&browser, audit, serde_json::json!({})).await;
        assert_eq!(refused[0], 403, "{role}: {refused}");
        assert_eq!(refused[1]["code"], "PERMISSION_DENIED", "{role}: {refused}");
        assert!(refused[1]["message"].as_str().unwrap().contains("needs role admin"), "{refused}");
        // The browser logs the forced request's 403, and nothing else.
        let errors = browser.errors().await;
        assert!(
            errors.iter().all(|e| e.contains("ListAuditEvents") && e.contains("403")),
            "{errors:#?}"
        );
    }

    // An admin sees the log, with the refusals just made in it.
    browser.eval("sessionStorage.clear(), true").await;
    sign_in(&browser, &url, "admin").await;
    browser.client.goto(&format!("{url}#/server")).await.unwrap();
    let denied = format!(
        "[...{section}.querySelectorAll('[data-testid=audit-events] tbody tr')]
           .filter(tr => tr.textContent.includes('ListAuditEvents')
                         && tr.textContent.includes('denied')).length"
    );
    browser.until("the admin sees both refusals in the audit log", &format!("{denied} >= 2")).await;
    assert_eq!(
        browser.eval(&format!("{section}.querySelector('[data-testid=audit-admins-only]')")).await,
        Value::Null
    );
    assert_no_errors(browser.errors().await);
    browser.close().await;
}

async fn wait_registered_as_operator(rpc: &Rpc, uuid: Uuid) -> pb::Client {
    wait_client_as_operator(rpc, uuid, |_| true).await
}

/// `support::device::wait_client` with the operator's token.
async fn wait_client_as_operator(
    rpc: &Rpc,
    uuid: Uuid,
    check: impl Fn(&pb::Client) -> bool,
) -> pb::Client {
    let check = &check;
    support::wait_for(&format!("client {uuid}"), || {
        let mut rpc = rpc.clone();
        async move {
            let request =
                authed("operator", pb::GetClientRequest { client_uuid: uuid.to_string() });
            let client = rpc.get_client(request).await.ok()?.into_inner().client?;
            check(&client).then_some(client)
        }
    })
    .await
}
