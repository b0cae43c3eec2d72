//! A small W3C WebDriver client over reqwest, for driving the real desktop app through
//! `tauri-driver` (which forwards to WebKitWebDriver on Linux). Only what the end-to-end
//! test needs: sessions, finding elements by CSS or XPath, clicks, keys, text, scripts and
//! screenshots, each find waiting for the element to appear.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{json, Value};

/// The workspace's `target/` (or `CARGO_TARGET_DIR`): where the desktop binaries are.
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        })
}

/// A loopback port nobody listens on (the probe socket is closed before it is handed out).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The key W3C uses for element references in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a find waits for its element (screens load from the local cache; a sync or a
/// server restart can take several seconds).
pub const WAIT: Duration = Duration::from_secs(30);

/// A `tauri-driver` process with its own WebKitWebDriver port, and the environment (data
/// directory, keyring service) the app instances it starts inherit.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start(port: u16, native_port: u16, env: &[(&str, &str)]) -> Result<Driver> {
        let bin = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Its own process group: tauri-driver starts WebKitWebDriver, which starts the app;
        // stopping the driver must stop them all, or an orphan keeps the test run's output
        // open and the run never ends.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {bin} (cargo install tauri-driver --locked)"))?;
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            // No WebDriver call may hang a test run: creating a session (which starts the
            // app) is the slowest, a few seconds.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Ok(driver);
                }
            }
            if Instant::now() > deadline {
                bail!("tauri-driver on port {port} did not answer /status");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts the app binary in a new WebDriver session.
    pub async fn session(&self, app: &Path) -> Result<Session> {
        let caps = json!({
            "capabilities": { "alwaysMatch": { "tauri:options": { "application": app } } }
        });
        let value = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.base),
            Some(caps),
        )
        .await
        .context("creating a WebDriver session (is WebKitWebDriver installed?)")?;
        let id = value["sessionId"]
            .as_str()
            .context("no sessionId")?
            .to_owned();
        Ok(Session {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.base),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group (see `start`): tauri-driver, WebKitWebDriver, app instances.
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut req = http.request(method.clone(), url);
    // WebDriver wants a JSON body on every POST, even an empty one.
    if method == reqwest::Method::POST {
        req = req.json(&body.unwrap_or_else(|| json!({})));
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = resp.status();
    let value: Value = resp
        .json()
        .await
        .with_context(|| format!("{method} {url}: body"))?;
    if !status.is_success() {
        let error = WebDriverError {
            code: value["value"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            said: format!("{method} {url}: {status} {}", value["value"]),
        };
        return Err(error.into());
    }
    Ok(value["value"].clone())
}

/// A WebDriver error answer, kept typed so that a caller can tell a re-rendered element
/// (`stale element reference`) from a real failure.
#[derive(Debug)]
struct WebDriverError {
    /// The W3C error code, e.g. `no such element`, `stale element reference`.
    code: String,
    said: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.said)
    }
}

impl std::error::Error for WebDriverError {}

/// Whether `e` says the element was replaced in the page after it was found: the UI
/// re-renders on every sync and status change, so a found element can be gone a moment
/// later, and the right answer is to find it again.
fn is_stale(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<WebDriverError>()
            .is_some_and(|w| w.code == "stale element reference")
    })
}

/// One running app instance.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// How to find an element.
#[derive(Clone, Copy)]
pub enum By<'a> {
    Css(&'a str),
    /// A button (or other element) by its visible text: `//button[normalize-space()='…']`.
    XPath(&'a str),
}

impl By<'_> {
    fn json(&self) -> Value {
        match self {
            By::Css(s) => json!({"using": "css selector", "value": s}),
            By::XPath(s) => json!({"using": "xpath", "value": s}),
        }
    }
    fn describe(&self) -> String {
        match self {
            By::Css(s) => format!("css `{s}`"),
            By::XPath(s) => format!("xpath `{s}`"),
        }
    }
}

/// A button whose visible text is exactly `text`.
pub fn button(text: &str) -> String {
    format!("//button[normalize-space()='{text}']")
}

impl Session {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        call(&self.http, method, &format!("{}{path}", self.base), body).await
    }

    /// The first element matching `by`, waiting up to [`WAIT`] for it to appear.
    pub async fn find(&self, by: By<'_>) -> Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self
                .call(reqwest::Method::POST, "/element", Some(by.json()))
                .await
            {
                Ok(v) => {
                    return Ok(v[ELEMENT]
                        .as_str()
                        .with_context(|| format!("no element id in {v}"))?
                        .to_owned())
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(e.context(format!("waiting for {}", by.describe())))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
            }
        }
    }

    /// How many elements match right now (no waiting).
    pub async fn count(&self, by: By<'_>) -> Result<usize> {
        let v = self
            .call(reqwest::Method::POST, "/elements", Some(by.json()))
            .await?;
        Ok(v.as_array().map_or(0, Vec::len))
    }

    /// Scrolls an element to the middle of the window, as a person scrolls to what they
    /// are about to use: the app's sticky top bar and fixed status bar never cover it.
    async fn bring_into_view(&self, el: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({
                "script": "arguments[0].scrollIntoView({ block: 'center', inline: 'nearest' }); return true;",
                "args": [{ (ELEMENT): el }],
            })),
        )
        .await
        .map(drop)
    }

    /// Finds `by` and runs `act` on it; if the element is re-rendered in between (stale),
    /// finds it again, up to [`WAIT`]. Every action on an element goes through here.
    async fn on_element<T>(&self, by: By<'_>, act: impl AsyncFn(&str) -> Result<T>) -> Result<T> {
        let deadline = Instant::now() + WAIT;
        loop {
            let el = self.find(by).await?;
            match act(&el).await {
                Err(e) if is_stale(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                done => return done,
            }
        }
    }

    pub async fn click(&self, by: By<'_>) -> Result<()> {
        self.on_element(by, async |el| {
            self.bring_into_view(el).await?;
            self.call(reqwest::Method::POST, &format!("/element/{el}/click"), None)
                .await
                .map(drop)
        })
        .await
        .with_context(|| format!("clicking {}", by.describe()))
    }

    /// Clears a field and types `text` into it (real key events, as a person would).
    pub async fn fill(&self, by: By<'_>, text: &str) -> Result<()> {
        self.on_element(by, async |el| {
            self.bring_into_view(el).await?;
            self.call(reqwest::Method::POST, &format!("/element/{el}/clear"), None)
                .await
                .map(drop)
        })
        .await
        .with_context(|| format!("clearing {}", by.describe()))?;
        self.keys(by, text).await
    }

    /// Types `text` into a field without clearing it. `\u{E007}` is Enter.
    pub async fn keys(&self, by: By<'_>, text: &str) -> Result<()> {
        self.on_element(by, async |el| {
            self.call(
                reqwest::Method::POST,
                &format!("/element/{el}/value"),
                Some(json!({ "text": text })),
            )
            .await
            .map(drop)
        })
        .await
        .with_context(|| format!("typing into {}", by.describe()))
    }

    pub async fn text(&self, by: By<'_>) -> Result<String> {
        self.on_element(by, async |el| {
            let v = self
                .call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
                .await?;
            Ok(v.as_str().unwrap_or_default().to_owned())
        })
        .await
    }

    /// Waits until the text of `by` satisfies `ok`; returns the text.
    pub async fn wait_text(
        &self,
        by: By<'_>,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            if let Ok(t) = self.text(by).await {
                if ok(&t) {
                    return Ok(t);
                }
                last = t;
            }
            if Instant::now() > deadline {
                bail!(
                    "waited {timeout:?} for {what} in {}; it says {last:?}",
                    by.describe()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs a script in the page (synchronously) and returns its result.
    pub async fn execute(&self, script: &str) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Runs an asynchronous script: its last argument is the callback that returns.
    pub async fn execute_async(&self, script: &str, args: Value) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().context("no screenshot data")?)
            .context("decoding the screenshot")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        println!("  screenshot {}", path.display());
        Ok(())
    }

    /// Ends the session (closes the app).
    pub async fn close(self) -> Result<()> {
        self.call(reqwest::Method::DELETE, "", None)
            .await
            .map(|_| ())
    }
}
