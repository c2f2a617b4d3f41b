//! A real browser for the console tests: Debian's headless Chromium (`/usr/bin/chromium`)
//! driven over WebDriver by `chromedriver` (`/usr/bin/chromedriver`) on a free port, with
//! `fantoccini` as the client. Nothing is downloaded: where either binary is missing the
//! test is skipped with a message, except under `CI=true`, where it fails.
//!
//! chromedriver runs in a process group of its own with the browsers it starts; dropping the
//! [`Browser`] ends that group (by its id), so no Chromium outlives a test.

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page may take to show what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A headless Chromium session; the WebDriver client is `client`.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver and a browser session, or `None` (skip) where the binaries are
    /// missing; under `CI=true` a browser that cannot start fails the test.
    pub async fn start() -> Option<Browser> {
        let missing: Vec<&str> =
            [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
        if !missing.is_empty() {
            let why = format!(
                "{} missing (apt-get install chromium chromium-driver)",
                missing.join(", ")
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "a browser is required under CI=true: {why}"
            );
            eprintln!("skipping: {why}");
            return None;
        }
        // chromedriver cannot report a port it chose: take one nothing listens on.
        let port = super::closed_port();
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts")
        };
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let url = format!("http://127.0.0.1:{port}");
        let client = super::wait_for("chromedriver accepts a session", || {
            let (url, capabilities) = (url.clone(), capabilities.clone());
            async move { connect(&url, capabilities).await.ok() }
        })
        .await;
        Some(Browser { client, driver, _profile: profile })
    }

    /// Open `url` and wait until the element `css` is on the page.
    pub async fn open(&self, url: &str, css: &str) {
        self.client.goto(url).await.unwrap();
        self.element(css).await;
    }

    /// Open the console at `url`, give it `token` when it asks, and wait for the fleet page.
    pub async fn sign_in(&self, url: &str, token: &str) {
        self.open(url, "input[name=token]").await;
        self.element("input[name=token]").await.send_keys(token).await.unwrap();
        self.click("form button[type=submit]").await;
        self.element("#fleet-table").await;
    }

    /// The element `css`, waiting up to [`PATIENCE`] for it to appear.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("{css} did not appear within {PATIENCE:?}: {err}"))
    }

    /// Wait up to [`PATIENCE`] until the JavaScript expression `script` is truthy; its value.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let truthy = async || {
            let value = self.eval(script).await;
            let falsy = matches!(value, Value::Null | Value::Bool(false))
                || value == json!(0)
                || value == json!("");
            (!falsy).then_some(value)
        };
        super::until(PATIENCE, truthy)
            .await
            .unwrap_or_else(|| panic!("{what}: not within {PATIENCE:?} ({script})"))
    }

    /// Click the element `css` once it is on the page. The click runs in the page in one
    /// step, so a list that re-renders in between cannot leave a stale element behind.
    pub async fn click(&self, css: &str) {
        let found = format!("document.querySelector({css:?})");
        self.until(&format!("{css} to click"), &format!("{found} !== null")).await;
        self.eval(&format!("{found}.click(), true")).await;
    }

    /// The value of the JavaScript expression `script`.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(&format!("return ({script});"), vec![]).await.unwrap()
    }

    /// Every error the page reported: the console's own collector (uncaught errors,
    /// unhandled rejections) and the browser log's SEVERE entries (failed loads, CSP, …).
    pub async fn errors(&self) -> Vec<String> {
        let mut errors: Vec<String> = match self.eval("window.consoleErrors || []").await {
            Value::Array(list) => list.into_iter().map(|v| v.to_string()).collect(),
            other => vec![format!("no error collector: {other}")],
        };
        let log = self.client.issue_cmd(BrowserLog).await.unwrap_or(Value::Null);
        for entry in log.as_array().into_iter().flatten() {
            if entry["level"] == "SEVERE" {
                errors.push(entry["message"].to_string());
            }
        }
        errors
    }

    /// Save a PNG screenshot of the page at `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// End the session, then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the Chromium it started share the process group `driver.id()`.
        let group = self.driver.id() as i32;
        unsafe_free_kill(-group);
        let _ = self.driver.wait();
    }
}

/// SIGKILL to `pid` (a negative pid: a process group) through `kill(1)`, which the tests
/// may run without `unsafe`.
fn unsafe_free_kill(pid: i32) {
    let _ = Command::new("kill").args(["-KILL", "--", &pid.to_string()]).status();
}

async fn connect(url: &str, capabilities: Capabilities) -> Result<Client, String> {
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(url)
        .await
        .map_err(|err| err.to_string())
}

/// chromedriver's browser log (`POST /session/{id}/se/log`), emptied as it is read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}
