//! The console's rollouts and server pages in a real browser (Debian's headless Chromium)
//! against a real `rebound serve`, a real Mosquitto and simulated devices: a rollout where
//! 20 % of the devices fail shows as aborted by its failure threshold, and the server page
//! shows the new generation and the restart after a hot restart. Each of those checks loads
//! the page afresh and reads the DOM the console rendered from the server's answers, until
//! the condition holds or the deadline passes. An operator's whole rollout in one page over
//! WebDriver (`support::browser`): the form's error inline, the start by a click, the live
//! bars moving without a reload, and Abort through its confirmation.
//!
//! With `REBOUND_SCREENSHOTS=1` the pages are also saved as docs/console/rollout.png and
//! docs/console/server.png.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use rebound::proto::v1 as pb;
use serde_json::Value;
use support::auth::{authed, token};
use support::browser::Browser;
use support::device::{Device, restart_app_to_all, rpc, wait_registered};
use support::mosquitto::Broker;
use support::{Server, restart, wait_for};
use uuid::Uuid;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium, or `None` (outside CI) when it is not installed; under `CI=true` a missing
/// browser fails the test.
fn chromium() -> Option<&'static Path> {
    let path = Path::new(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{CHROMIUM} is missing: apt-get install chromium chromium-driver"
    );
    eprintln!("skipped: {CHROMIUM} is not installed");
    None
}

/// Load the console page `fragment` (`#/server`) in headless Chromium, let it run its
/// requests, and return the DOM it rendered.
fn render(browser: &Path, port: u16, fragment: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000"])
        .arg("--virtual-time-budget=3000")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{port}/{fragment}"))
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Wait until the page's DOM satisfies `check`; returns it.
async fn wait_page(
    browser: &Path,
    port: u16,
    fragment: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let check = &check;
    wait_for(what, || async move {
        let dom = render(browser, port, fragment, &[]);
        check(&dom).then_some(dom)
    })
    .await
}

/// Save the page as docs/console/<name>.png when REBOUND_SCREENSHOTS=1.
fn screenshot(browser: &Path, port: u16, fragment: &str, name: &str) {
    if std::env::var("REBOUND_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.png"));
    render(browser, port, fragment, &[format!("--screenshot={}", file.display())]);
    assert!(file.exists(), "no screenshot at {}", file.display());
}

/// The text of the first element with `data-testid="<id>"` (no nested elements).
fn test_text<'a>(dom: &'a str, id: &str) -> Option<&'a str> {
    let start = dom.find(&format!("data-testid=\"{id}\""))?;
    let rest = &dom[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(&rest[open..open + close])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_where_a_fifth_of_the_devices_fail_shows_as_aborted() {
    let Some(browser) = chromium() else { return };
    let uuids: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let server = Server::start(&broker.server_config("")).await;
    let rpc = rpc(&server).await;
    let mut responders = Vec::new();
    for (i, uuid) in uuids.iter().enumerate() {
        let device = Device::connect(&broker, *uuid).await;
        device.health("running", Some("boot-1")).await;
        wait_registered(&rpc, *uuid).await;
        // Two of ten devices fail every command: 20 %.
        responders.push(device.respond_forever(i < 2));
    }
    let request = pb::StartRolloutRequest {
        max_per_minute: 600,
        abort_failure_percent: Some(10.0),
        min_finished: Some(5),
        ..restart_app_to_all(10)
    };
    let rollout = rpc.clone().start_rollout(request).await.unwrap().into_inner().rollout.unwrap();
    let id = rollout.rollout_id;

    let fragment = format!("#/rollout/{id}");
    let dom = wait_page(browser, server.http_port, &fragment, "the rollout page: aborted", |dom| {
        test_text(dom, "rollout-state") == Some("aborted")
    })
    .await;
    let reason = test_text(&dom, "abort-reason").expect("an abort reason");
    assert!(reason.contains("failure threshold") && reason.contains("&gt; 10.0%"), "{reason}");
    // Every command was sent; the failure rate stands above the threshold.
    let gauge = &dom[dom.find("data-testid=\"failure-rate\"").unwrap()..];
    assert!(gauge.contains("aborts above 10.0 %"), "{gauge:.600}");
    assert!(dom.contains("class=\"abort\" hidden"), "the Abort button is hidden once aborted");
    screenshot(browser, server.http_port, &fragment, "rollout");

    let list = wait_page(browser, server.http_port, "#/rollouts", "the list: the rollout", |dom| {
        dom.contains(&format!("data-rollout=\"{id}\""))
    })
    .await;
    let row = &list[list.find(&format!("data-rollout=\"{id}\"")).unwrap()..];
    assert_eq!(test_text(row, "rollout-state"), Some("aborted"), "{row:.600}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_page_shows_the_generation_and_the_restart_after_a_hot_restart() {
    let Some(browser) = chromium() else { return };
    let server = Server::start("").await;
    let dom = wait_page(browser, server.http_port, "#/server", "the server page", |dom| {
        test_text(dom, "generation").is_some()
    })
    .await;
    assert_eq!(test_text(&dom, "generation"), Some("0"));
    assert!(dom.contains("No restarts recorded"), "{dom:.2000}");

    let id = restart::request(&server.addr, pb::RestartMode::Handover, "").await;
    let event = restart::wait_terminal(&server.addr, &id).await;
    assert_eq!(event.outcome(), pb::RestartOutcome::Succeeded, "{event:?}");

    let dom = wait_page(browser, server.http_port, "#/server", "generation 1 on the page", |dom| {
        test_text(dom, "generation") == Some("1") && dom.contains("data-testid=\"restart-events\"")
    })
    .await;
    let events = &dom[dom.find("data-testid=\"restart-events\"").unwrap()..];
    assert!(events.contains("succeeded") && events.contains("0 → 1"), "{events:.1500}");
    assert!(events.contains("ms</li>"), "phase durations listed: {events:.1500}");
    screenshot(browser, server.http_port, "#/server", "server");
}

/// The rollout `id` as the server has it, asked with the operator's token.
async fn get_rollout(rpc: &support::device::Rpc, id: &str) -> pb::Rollout {
    let request = authed("operator", pb::GetRolloutRequest { rollout_id: id.to_owned() });
    rpc.clone().get_rollout(request).await.unwrap().into_inner().rollout.unwrap()
}

/// The finished-count of the state bar `counter` on the rollout page (`3 / 10` → 3).
fn bar_count(counter: &str) -> String {
    format!(
        "Number((document.querySelector(\"[data-testid=state-bars] tr[data-counter={counter}] \
         td.count\") || {{textContent: '-1'}}).textContent.split(' / ')[0])"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_starts_watches_and_aborts_a_rollout_in_the_browser() {
    let Some(browser) = Browser::start().await else { return };
    let uuids: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let (_dir, server) = support::auth::server(&broker.server_config(""), &[]).await;
    let rpc = rpc(&server).await;
    let mut responders = Vec::new();
    for uuid in &uuids {
        let device = Device::connect(&broker, *uuid).await;
        device.health("running", Some("boot-1")).await;
        responders.push(device.respond_forever(false));
    }
    for uuid in &uuids {
        let request = || authed("operator", pb::GetClientRequest { client_uuid: uuid.to_string() });
        wait_for(&format!("client {uuid}"), || {
            let mut rpc = rpc.clone();
            let request = request();
            async move { rpc.get_client(request).await.ok() }
        })
        .await;
    }
    let url = format!("http://127.0.0.1:{}/", server.http_port);
    browser.sign_in(&url, token("operator")).await;
    browser.client.goto(&format!("{url}#/rollouts")).await.unwrap();
    browser
        .until(
            "the start button enabled",
            "!document.querySelector('[data-testid=start-rollout]').disabled",
        )
        .await;
    // Set on this page load: still there after the rollout ran means no reload happened.
    browser.eval("window.sameLoad = true").await;

    // The form: target (listed uuids), canary, rate, threshold. A threshold out of range is
    // the server's INVALID_ARGUMENT, shown inline under the form, naming the field.
    let select = |name: &str, value: &str| {
        format!(
            "(s => {{ s.value = '{value}'; s.dispatchEvent(new Event('change')); return true; }})\
             (document.querySelector('select[name={name}]'))"
        )
    };
    browser.eval(&select("target-kind", "clients")).await;
    browser.eval(&select("canary-kind", "count")).await;
    let type_into = async |name: &str, text: &str| {
        let input = browser.element(&format!("form.start-rollout input[name={name}]")).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    };
    let targets: Vec<String> = uuids.iter().map(Uuid::to_string).collect();
    type_into("target", &targets.join(" ")).await;
    type_into("canary", "2").await;
    type_into("max-per-minute", "20").await;
    type_into("abort-failure-percent", "150").await;
    browser.click("[data-testid=start-rollout]").await;
    let error = browser
        .until(
            "the threshold's error inline",
            "(e => !e.hidden && e.textContent)(document.querySelector('[data-testid=start-error]'))",
        )
        .await;
    let error = error.as_str().unwrap();
    assert!(error.starts_with("INVALID_ARGUMENT: abort_failure_percent: "), "{error}");
    // The browser logs the refused request's 400, and nothing else.
    let errors = browser.errors().await;
    assert!(errors.iter().all(|e| e.contains("StartRollout") && e.contains("400")), "{errors:#?}");
    let listed =
        rpc.clone().list_rollouts(authed("operator", pb::ListRolloutsRequest::default())).await;
    assert!(listed.unwrap().into_inner().rollouts.is_empty(), "a refused form starts nothing");

    // Corrected and started by a click: the page follows the rollout.
    type_into("abort-failure-percent", "50").await;
    browser.click("[data-testid=start-rollout]").await;
    let hash = browser
        .until("the rollout's page", "location.hash.startsWith('#/rollout/') && location.hash")
        .await;
    let id = hash.as_str().unwrap().trim_start_matches("#/rollout/").to_owned();
    let rollout = get_rollout(&rpc, &id).await;
    assert_eq!((rollout.canary_size, rollout.max_per_minute), (2, 20), "{rollout:?}");
    assert_eq!(rollout.abort_failure_percent, 50.0, "{rollout:?}");
    assert_eq!(rollout.counters.as_ref().map(|c| c.total), Some(10), "{rollout:?}");

    // The bars move as commands complete, with no reload: the completed count rises twice
    // and its bar widens.
    let completed = bar_count("completed");
    let first = browser
        .until("a first completed command", &format!("{completed} > 0 && {completed}"))
        .await;
    let first = first.as_i64().unwrap();
    browser.until("more completed commands", &format!("{completed} > {first}")).await;
    let width = browser
        .eval("document.querySelector('[data-testid=state-bars] tr[data-counter=completed] .seg').style.width")
        .await;
    assert_ne!(width, Value::String("0%".into()), "the completed bar grew");
    assert_eq!(browser.eval("window.sameLoad === true").await, Value::Bool(true), "no reload");

    // Abort, cancelled: nothing changes.
    browser.click("button[name=abort]").await;
    browser.element("dialog.confirm button[name=cancel]").await;
    browser.click("dialog.confirm button[name=cancel]").await;
    browser.until("the dialog closed", "document.querySelector('dialog.confirm') === null").await;
    let after_cancel = get_rollout(&rpc, &id).await;
    assert!(
        matches!(after_cancel.state(), pb::RolloutState::Canary | pb::RolloutState::Waves),
        "cancelled abort left it running: {after_cancel:?}"
    );
    assert_eq!(after_cancel.abort_cause(), pb::RolloutAbortCause::Unspecified);
    assert!(
        !browser.eval("document.querySelector('.abort').hidden").await.as_bool().unwrap(),
        "Abort is still offered"
    );

    // Abort, confirmed: the rollout is aborted by the operator, on the page and the server.
    browser.element("input[name=abort-reason]").await.send_keys("seen enough").await.unwrap();
    browser.click("button[name=abort]").await;
    browser.element("dialog.confirm button[name=confirm]").await;
    browser.click("dialog.confirm button[name=confirm]").await;
    let reason = browser
        .until(
            "aborted on the page",
            "document.querySelector('[data-testid=rollout-state]').textContent === 'aborted' \
             && document.querySelector('[data-testid=abort-reason]').textContent",
        )
        .await;
    assert!(reason.as_str().unwrap().contains("seen enough"), "{reason}");
    let aborted = get_rollout(&rpc, &id).await;
    assert_eq!(aborted.state(), pb::RolloutState::Aborted, "{aborted:?}");
    assert_eq!(aborted.abort_cause(), pb::RolloutAbortCause::Operator, "{aborted:?}");
    let counters = aborted.counters.unwrap();
    assert!(
        counters.completed < counters.total,
        "aborted before every device was reached: {counters:?}"
    );
    assert_eq!(browser.eval("window.sameLoad === true").await, Value::Bool(true), "no reload");
    let errors = browser.errors().await;
    assert!(errors.is_empty(), "browser errors: {errors:#?}");
    browser.close().await;
}
