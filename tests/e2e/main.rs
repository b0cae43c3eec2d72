//! End-to-end: the real desktop binary (`vaidya-desktop`, release build with the UI embedded)
//! in a real WebKitGTK webview under Xvfb, driven through `tauri-driver` and WebKitWebDriver,
//! against the real server (a child process, so it can be killed and restarted) and a private
//! PostgreSQL cluster, with credentials in the real keyring of the surrounding D-Bus session.
//!
//! One clinic day, in order: a doctor signs in, registers a patient and books an appointment;
//! the server stops; the doctor keeps working offline (new patient, signed note, prescription,
//! invoice) with the pending count visible; the server comes back and everything syncs; a
//! second signed-in client of the same clinic (front desk) sees the offline work and a live
//! change; a user of another branch on that computer sees none of it; the clinic's admin
//! opens the audit trail. Screenshots of the main screens go to `target/e2e-artifacts/`.
//!
//! Needs `DISPLAY`, a D-Bus session with an unlocked Secret Service, `tauri-driver`,
//! `WebKitWebDriver` and `target/release/vaidya-desktop` (or `VAIDYA_E2E_APP`); without them
//! the test is reported as ignored, unless `VAIDYA_REQUIRE_E2E=1` (scripts/test.sh) makes
//! that a failure.

mod hub;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use libtest_mimic::{Arguments, Trial};
use serde_json::Value;
use uuid::Uuid;
use vaidya_tests::webdriver::{button, free_port, target_dir, By, Driver, Session};
use vaidya_tests::{Api, Harness, Person, World};

/// This test binary doubles as the server process: `e2e --serve-for-e2e <app-url> <addr>`
/// runs `vaidya_server::launch` until killed.
const SERVE_ARG: &str = "--serve-for-e2e";

/// The server process's releases directory (`Settings::desktop_releases`).
const RELEASES_ENV: &str = "VAIDYA_DESKTOP_RELEASES";

/// Waits for sync to finish after the server returns (the app retries with backoff of at
/// most 10 s) and for a live change to reach another client.
const SYNC_WAIT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some(SERVE_ARG) {
        return match serve(&raw[2], &raw[3]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("e2e server: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let args = Arguments::from_args();
    let missing = missing_prerequisites();
    let required = std::env::var("VAIDYA_REQUIRE_E2E").is_ok_and(|v| v == "1");
    if let Some(why) = &missing {
        if required {
            eprintln!("VAIDYA_REQUIRE_E2E=1 but the end-to-end test cannot run: {why}");
            return ExitCode::FAILURE;
        }
        println!("note: ignoring the desktop end-to-end test: {why}");
    }
    let trials = vec![
        Trial::test("desktop_offline_clinic_day", || {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(clinic_day())
                .map_err(|e| format!("{e:#}").into())
        })
        .with_ignored_flag(missing.is_some()),
        Trial::test("desktop_outage_with_the_clinic_hub", || {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(hub::outage_with_the_clinic_hub())
                .map_err(|e| format!("{e:#}").into())
        })
        .with_ignored_flag(missing.is_some()),
        Trial::test("desktop_window_fits_a_1366x768_screen", || {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(window_fits_a_small_screen())
                .map_err(|e| format!("{e:#}").into())
        })
        .with_ignored_flag(missing.is_some()),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

fn serve(app_url: &str, addr: &str) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let mut settings = vaidya_server::Settings::from_url(app_url)?;
        settings.desktop_releases = std::env::var_os(RELEASES_ENV).map(PathBuf::from);
        vaidya_server::launch(settings, listener, std::future::pending()).await
    })
}

fn app_binary() -> PathBuf {
    std::env::var_os("VAIDYA_E2E_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release").join("vaidya-desktop"))
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

fn missing_prerequisites() -> Option<String> {
    if std::env::var_os("DISPLAY").is_none() {
        return Some("no DISPLAY (run under xvfb-run)".into());
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return Some("no D-Bus session (run under dbus-run-session with a keyring)".into());
    }
    if std::env::var_os("TAURI_DRIVER").is_none() && !on_path("tauri-driver") {
        return Some("tauri-driver is not installed (cargo install tauri-driver --locked)".into());
    }
    if !on_path("WebKitWebDriver") {
        return Some("WebKitWebDriver is not installed (apt-get install webkit2gtk-driver)".into());
    }
    let app = app_binary();
    if !app.is_file() {
        return Some(format!(
            "{} is missing (cargo build --release -p vaidya-desktop --features custom-protocol)",
            app.display()
        ));
    }
    None
}

/// The server as its own process, so stopping it is as real as a power cut.
struct ServerProcess {
    child: Option<Child>,
    app_url: String,
    addr: SocketAddr,
    /// Where the server finds the desktop release it announces.
    releases: PathBuf,
}

impl ServerProcess {
    async fn start(app_url: &str, addr: SocketAddr, releases: PathBuf) -> Result<ServerProcess> {
        let mut server = ServerProcess {
            child: None,
            app_url: app_url.to_owned(),
            addr,
            releases,
        };
        server.restart().await?;
        Ok(server)
    }

    async fn restart(&mut self) -> Result<()> {
        let child = Command::new(std::env::current_exe()?)
            .args([SERVE_ARG, &self.app_url, &self.addr.to_string()])
            .env("RUST_LOG", "warn")
            .env(RELEASES_ENV, &self.releases)
            .stdin(Stdio::null())
            .spawn()
            .context("starting the server process")?;
        self.child = Some(child);
        let health = format!("http://{}/health", self.addr);
        for _ in 0..150 {
            if reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not come up on {}", self.addr)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where screenshots go (CI keeps them as artifacts).
fn artifacts() -> Result<PathBuf> {
    let dir = target_dir().join("e2e-artifacts");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// One app instance's surroundings: its data directory and keyring service (two instances
/// on one machine must not share a signed-in session).
struct Device {
    driver: Driver,
    data_dir: tempfile::TempDir,
}

impl Device {
    /// The app on its own screen (`screen`'s size is the PC's).
    async fn start(screen: &SmallScreen) -> Result<Device> {
        let data_dir = tempfile::tempdir()?;
        let service = format!("vaidya-e2e-{}", Uuid::new_v4());
        let dir = data_dir
            .path()
            .to_str()
            .context("data dir path")?
            .to_owned();
        let driver = Driver::start(
            free_port()?,
            free_port()?,
            &[
                ("DISPLAY", &screen.display),
                ("VAIDYA_DATA_DIR", &dir),
                ("VAIDYA_KEYRING_SERVICE", &service),
            ],
        )
        .await?;
        Ok(Device { driver, data_dir })
    }
}

/// The screen shown fits the window's width: nothing on it scrolls sideways (the page or any
/// scrolling box), at whatever size the PC's screen gave the window.
async fn fits_the_width(s: &Session, what: &str) -> Result<()> {
    // A frame for the layout after the last click.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v = s
        .execute(
            "const sideways = (e) => {
               const x = getComputedStyle(e).overflowX;
               return e.scrollWidth > e.clientWidth + 1
                 && (e === document.scrollingElement || x === 'auto' || x === 'scroll');
             };
             const boxes = [document.scrollingElement, ...document.querySelectorAll('.app *')]
               .filter((e) => e && sideways(e))
               .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} ${e.scrollWidth}>${e.clientWidth}`);
             return [window.innerWidth, window.innerHeight, boxes];",
        )
        .await?;
    let (width, height) = (v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0));
    let boxes = v[2].as_array().cloned().unwrap_or_default();
    ensure!(
        boxes.is_empty(),
        "{what} scrolls sideways at {width}x{height}: {boxes:?}"
    );
    println!("  {what}: fits {width}x{height} without sideways scrolling");
    Ok(())
}

/// Launching the app again on a PC where it runs (same data directory) must not start a
/// second app over the same partitions: the new process says so and exits.
async fn second_launch_leaves_the_running_app(app: &std::path::Path, pc: &Device) -> Result<()> {
    let child = tokio::process::Command::new(app)
        .env("VAIDYA_DATA_DIR", pc.data_dir.path())
        .env(
            "VAIDYA_KEYRING_SERVICE",
            format!("vaidya-e2e-{}", Uuid::new_v4()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("launching the app a second time")?;
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .context("the second launch was still running after 30 s")??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success() && stderr.contains("already open"),
        "the second launch ended with {} and said: {stderr}",
        out.status
    );
    Ok(())
}

async fn sign_in(s: &Session, server: &str, who: &Person) -> Result<()> {
    s.find(By::Css("form.sign-in")).await?;
    s.fill(By::Css("#f-server"), server).await?;
    s.fill(By::Css("#f-email"), &who.email).await?;
    s.fill(By::Css("#f-password"), &who.password).await?;
    s.click(By::Css("form.sign-in button[type=submit]")).await?;
    // A member of one clinic lands in it straight away.
    s.find(By::Css("[data-testid=clinic-name]")).await?;
    Ok(())
}

/// Signs out where the app must ask first (work waiting, no server): the dialog says why.
async fn sign_out_confirming(s: &Session) -> Result<()> {
    s.click(By::XPath(&button("Sign out"))).await?;
    s.wait_text(
        By::Css("[data-testid=confirm-dialog] .modal-body"),
        "the sign-out warning",
        Duration::from_secs(10),
        |t| t.contains("waiting for the server") && t.contains("cannot be reached"),
    )
    .await?;
    s.click(By::Css("[data-testid=confirm-ok]")).await?;
    s.find(By::Css("form.sign-in")).await?;
    Ok(())
}

async fn sign_out(s: &Session) -> Result<()> {
    s.click(By::XPath(&button("Sign out"))).await?;
    s.find(By::Css("form.sign-in")).await?;
    Ok(())
}

async fn register_patient(s: &Session, name: &str, dob: &str, phone: &str) -> Result<()> {
    s.click(By::Css("[data-testid=nav-desk]")).await?;
    s.click(By::Css("[data-testid=tab-patients]")).await?;
    s.click(By::Css("[data-testid=register-patient]")).await?;
    s.fill(By::Css("#f-name"), name).await?;
    s.fill(By::Css("#f-dob"), dob).await?;
    s.fill(By::Css("#f-phone"), phone).await?;
    s.click(By::Css("[data-testid=patient-form] button[type=submit]"))
        .await?;
    s.wait_text(
        By::Css("[data-testid=patient-card] h2"),
        "the new patient's card",
        Duration::from_secs(15),
        |t| t == name,
    )
    .await?;
    Ok(())
}

/// Searches the local cache and opens the first hit (inside `scope`, a CSS prefix).
async fn choose_patient(s: &Session, scope: &str, query: &str) -> Result<()> {
    s.fill(
        By::Css(&format!("{scope} input[name=patient-search]")),
        query,
    )
    .await?;
    s.click(By::Css(&format!("{scope} ul.results li"))).await
}

async fn wait_notice(s: &Session, text: &str) -> Result<()> {
    let xpath =
        format!("//*[contains(@class,'banner') and contains(normalize-space(),\"{text}\")]");
    s.find(By::XPath(&xpath)).await.map(|_| ())
}

/// Names in Devanagari and Tamil, typed, found by a search in their own script, billed and
/// printed: each receipt PDF embeds the shipped Noto font of its script (this machine has no
/// Indic font of its own, so boxes would embed none).
async fn indic_names_print(doc: &Session) -> Result<()> {
    for (name, query, phone, font) in [
        ("सुनीता शर्मा", "सुनीता", "90000 12345", "NotoSansDevanagari"),
        ("முருகன் செல்வம்", "முருகன்", "90000 67890", "NotoSansTamil"),
    ] {
        register_patient(doc, name, "05/06/1979", phone).await?;
        doc.click(By::Css("[data-testid=tab-invoices]")).await?;
        choose_patient(doc, ".front-desk", query).await?;
        doc.fill(
            By::Css(".invoice-editor input[aria-label='Unit price (₹)']"),
            "300",
        )
        .await?;
        doc.click(By::XPath(&button("Issue invoice"))).await?;
        doc.click(By::Css("[data-testid=confirm-ok]")).await?;
        wait_notice(doc, "Invoice issued.").await?;
        let path = save_pdf(doc, "save-receipt-pdf", "RECEIPT").await?;
        let fonts = std::process::Command::new("pdffonts")
            .arg(&path)
            .output()
            .context("pdffonts (poppler-utils) runs")?;
        let fonts = String::from_utf8_lossy(&fonts.stdout).into_owned();
        ensure!(
            fonts.contains(font),
            "the receipt of {name} embeds no {font}:\n{fonts}"
        );
        let _ = std::fs::remove_file(&path);
    }
    doc.screenshot(&artifacts()?.join("03b-indic-names.png"))
        .await?;
    println!("  Devanagari and Tamil names registered, found in their script and printed with the shipped fonts");
    Ok(())
}

/// A conflict decided from the inbox: the desk books the walk-in with the doctor at Meera's
/// 11:30; the server keeps both bookings and flags the overlap; the inbox names both (patient,
/// time, doctor) and the desk cancels its own booking there. The server has it cancelled.
async fn double_booking_decided_in_the_inbox(
    desk: &Session,
    admin: &Api,
    clinic: Uuid,
) -> Result<()> {
    desk.click(By::Css("[data-testid=tab-patients]")).await?;
    choose_patient(desk, ".front-desk", "Mehta").await?;
    desk.click(By::XPath(&format!(
        "//article[@data-testid='patient-card']{}",
        button("Book")
    )))
    .await?;
    desk.fill(By::Css("#f-appt-start"), "11:30").await?;
    desk.keys(By::Css("#f-appt-start"), "\u{E007}").await?;
    wait_notice(desk, "Appointment booked.").await?;
    // The overlap is found by the server at the push and reaches the inbox with the pull.
    let deadline = std::time::Instant::now() + SYNC_WAIT;
    loop {
        desk.click(By::Css("[data-testid=nav-conflicts]")).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if desk
            .count(By::Css("[data-testid=double-booking] tbody tr"))
            .await?
            >= 2
        {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "no double booking reached the inbox"
        );
        desk.click(By::Css("[data-testid=nav-desk]")).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let table = desk.text(By::Css("[data-testid=double-booking]")).await?;
    ensure!(
        table.contains("Sunil Mehta")
            && table.contains("Meera Deshpande")
            && table.contains("11:30"),
        "the inbox does not name both bookings: {table}"
    );
    desk.screenshot(&artifacts()?.join("08c-double-booking-1024x640.png"))
        .await?;
    fits_the_width(desk, "the conflict inbox").await?;
    desk.click(By::XPath(
        "//table[@data-testid='double-booking']//tr[td[normalize-space()='Sunil Mehta']]//button[@data-testid='cancel-booking']",
    ))
    .await?;
    desk.click(By::Css("[data-testid=confirm-ok]")).await?;
    desk.wait_text(
        By::Css("main.content"),
        "the inbox emptied",
        Duration::from_secs(15),
        |t| t.contains("No conflicts"),
    )
    .await?;
    let deadline = std::time::Instant::now() + SYNC_WAIT;
    loop {
        let sunil = server_list(admin, &format!("/v1/clinics/{clinic}/patients?q=Mehta")).await?;
        let id = sunil
            .first()
            .and_then(|p| p["id"].as_str())
            .context("Sunil Mehta on the server")?
            .to_owned();
        let appts = server_list(
            admin,
            &format!("/v1/clinics/{clinic}/appointments?patient_id={id}"),
        )
        .await?;
        if appts.iter().any(|a| a["status"] == "cancelled") {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the cancelled booking never reached the server: {appts:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!("  a double booking decided from the inbox: the desk's booking cancelled, on the server too");
    desk.click(By::Css("[data-testid=nav-desk]")).await?;
    Ok(())
}

/// Clicks a "Save … as PDF" button and returns the saved file's path, once the notice names
/// a PDF whose name contains `file`.
async fn save_pdf(doc: &Session, button: &str, file: &str) -> Result<String> {
    doc.click(By::Css(&format!("[data-testid={button}]")))
        .await?;
    let notice = doc
        .wait_text(
            By::Css("[data-testid=pdf-saved]"),
            "the saved PDF's path",
            Duration::from_secs(60),
            |t| t.contains(file) && t.ends_with(".pdf"),
        )
        .await?;
    notice
        .split_once(": ")
        .map(|(_, p)| p.trim().to_owned())
        .context("the notice names the file")
}

/// Offline: a credit note on the invoice just issued, then the invoice and the note saved as
/// PDFs by the webview's print engine; their text (pdftotext) holds what Rules 49 and 53(1A)
/// ask for.
async fn credit_note_and_pdfs(doc: &Session, clinic: &vaidya_tests::TestClinic) -> Result<()> {
    doc.click(By::Css("[data-testid=credit-note-open]")).await?;
    doc.fill(By::Css("#f-credit-1"), "200").await?;
    doc.fill(By::Css("#f-credit-reason"), "Fee reduced by the doctor")
        .await?;
    doc.click(By::Css("[data-testid=credit-note-issue]"))
        .await?;
    doc.click(By::Css("[data-testid=confirm-ok]")).await?;
    let note = doc
        .wait_text(
            By::Css("[data-testid=credit-note]"),
            "the credit note under the invoice",
            Duration::from_secs(15),
            |t| t.contains("-C"),
        )
        .await?;
    let note_number = note
        .split_whitespace()
        .next()
        .context("the note's number")?
        .to_owned();
    let invoice_number = doc
        .text(By::Css(".invoice-card h3"))
        .await?
        .split_whitespace()
        .find(|w| w.contains('/'))
        .context("the invoice's number")?
        .to_owned();
    let mut texts = Vec::new();
    let mut receipt_page = String::new();
    for (button, file) in [
        ("save-invoice-pdf", "Bill of supply"),
        ("save-credit-note-pdf", "Credit note"),
        ("save-receipt-pdf", "RECEIPT"),
    ] {
        let path = save_pdf(doc, button, file).await?;
        let out = std::process::Command::new("pdftotext")
            .args(["-layout", &path, "-"])
            .output()
            .context("pdftotext (poppler-utils) runs")?;
        ensure!(out.status.success(), "pdftotext {path}: {out:?}");
        texts.push(String::from_utf8_lossy(&out.stdout).into_owned());
        if button == "save-receipt-pdf" {
            let info = std::process::Command::new("pdfinfo")
                .arg(&path)
                .output()
                .context("pdfinfo (poppler-utils) runs")?;
            let info = String::from_utf8_lossy(&info.stdout).into_owned();
            let field = |name: &str| {
                info.lines()
                    .find(|l| l.starts_with(name))
                    .unwrap_or_default()
                    .to_owned()
            };
            receipt_page = field("Page size:");
            // One page of the roll, as long as the receipt (a thermal printer cuts pages).
            ensure!(
                field("Pages:").split_whitespace().nth(1) == Some("1"),
                "the receipt PDF is not one page: {info}"
            );
        }
        let _ = std::fs::remove_file(&path);
    }
    // The 80 mm roll: 226.77 points wide (80 / 25.4 × 72), as long as the receipt.
    let width: f64 = receipt_page
        .split_whitespace()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .unwrap_or(0.0);
    ensure!(
        (width - 226.77).abs() < 1.0,
        "the receipt PDF is not on the 80 mm roll: {receipt_page:?}"
    );
    let (invoice, credit, receipt) = (&texts[0], &texts[1], &texts[2]);
    for expected in [invoice_number.as_str(), clinic.name.as_str(), "500.00"] {
        ensure!(
            receipt.contains(expected),
            "the receipt PDF lacks {expected:?}:\n{receipt}"
        );
    }
    for (what, text, expected) in [
        ("invoice", invoice, "BILL OF SUPPLY"),
        ("invoice", invoice, invoice_number.as_str()),
        ("invoice", invoice, clinic.name.as_str()),
        ("invoice", invoice, clinic.gstin.as_str()),
        ("invoice", invoice, "29AAGCA1234D1Z4"),
        ("invoice", invoice, "Acme Software Pvt Ltd"),
        ("invoice", invoice, "999312"),
        ("invoice", invoice, "Five Hundred"),
        ("invoice", invoice, "Authorised signatory"),
        ("credit note", credit, "CREDIT NOTE"),
        ("credit note", credit, note_number.as_str()),
        ("credit note", credit, invoice_number.as_str()),
        ("credit note", credit, clinic.gstin.as_str()),
        ("credit note", credit, "29AAGCA1234D1Z4"),
        ("credit note", credit, "Fee reduced by the doctor"),
        ("credit note", credit, "Two Hundred"),
        ("credit note", credit, "Authorised signatory"),
        ("credit note", credit, "Rule 53(1A)"),
    ] {
        ensure!(
            text.contains(expected),
            "the {what} PDF lacks {expected:?}:\n{text}"
        );
    }
    println!("  offline credit note {note_number} on {invoice_number}; invoice, note and receipt saved as PDF, every field in their text; receipt {receipt_page}");
    Ok(())
}

async fn wait_status(
    s: &Session,
    testid: &str,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> Result<String> {
    s.wait_text(
        By::Css(&format!("[data-testid={testid}]")),
        what,
        SYNC_WAIT,
        ok,
    )
    .await
}

/// An offline change the server then rejects for good: shown on the Unsent changes screen
/// with its reason, discarded through the in-app dialog (audited on the server), after
/// which the status bar reaches "Synced" again.
///
/// The rejection is real: the clinic's admin makes the doctor a front desk member (the admin
/// API) just before the server goes away; the app still knows the doctor as a doctor, so
/// the note written offline is refused at the next push (`forbidden`: notes are for
/// clinicians), not merged or turned into a conflict. Changing the role before the server
/// stops (not after it returns) leaves no race with the app's first push.
async fn rejected_change_is_discarded(
    doc: &Session,
    server: &mut ServerProcess,
    admin: &Api,
    clinic: Uuid,
    doctor: &Person,
    shots: &std::path::Path,
) -> Result<()> {
    let members = {
        let (status, body) = admin.get(&format!("/v1/clinics/{clinic}/members")).await?;
        ensure!(status.is_success(), "GET members: {status} {body}");
        body.as_array().cloned().unwrap_or_default()
    };
    let member = members
        .iter()
        .find(|m| m["user"]["email"] == doctor.email.as_str())
        .and_then(|m| m["id"].as_str())
        .context("the doctor's membership")?
        .to_owned();
    let set_role = |role: &'static str| {
        let path = format!("/v1/clinics/{clinic}/members/{member}");
        async move {
            let (status, body) = admin
                .patch(&path, serde_json::json!({ "role": role }))
                .await?;
            ensure!(status.is_success(), "PATCH role {role}: {status} {body}");
            Ok::<_, anyhow::Error>(())
        }
    };

    set_role("front_desk").await?;
    server.stop();
    wait_status(doc, "net-state", "Offline", |t| t == "Offline").await?;
    doc.click(By::Css("[data-testid=nav-doctor]")).await?;
    choose_patient(doc, ".doctor aside", "Kulkarni").await?;
    doc.fill(By::Css("#f-cc"), "Follow-up: cough better")
        .await?;
    doc.click(By::XPath(&button("Save draft"))).await?;
    wait_notice(doc, "Saved").await?;
    server.restart().await?;
    let rejected = wait_status(doc, "rejected", "1 rejected", |t| t == "1 rejected").await?;
    let waiting = doc.text(By::Css("[data-testid=pending]")).await?;
    ensure!(
        waiting != "Synced",
        "the status bar says Synced with a rejected change"
    );
    println!("  a change made offline was rejected; status bar: {waiting} · {rejected}");

    // The status bar's count opens the Unsent changes screen.
    doc.click(By::Css("[data-testid=rejected]")).await?;
    doc.wait_text(
        By::Css("[data-testid=unsent-change] h3"),
        "the rejected note in words",
        SYNC_WAIT,
        |t| t.starts_with("New consultation note") && t.contains("Ravi Kulkarni"),
    )
    .await?;
    let reason = doc.text(By::Css("[data-testid=unsent-reason]")).await?;
    ensure!(
        reason.contains("role"),
        "the reason does not say why: {reason:?}"
    );
    doc.screenshot(&shots.join("07b-unsent-changes.png"))
        .await?;

    doc.click(By::Css("[data-testid=unsent-discard]")).await?;
    let dialog = doc
        .wait_text(
            By::Css("[data-testid=confirm-dialog]"),
            "the discard dialog",
            Duration::from_secs(10),
            |t| t.contains("will be removed from this PC"),
        )
        .await?;
    ensure!(
        dialog.contains("audit trail"),
        "the dialog does not say discarding is audited: {dialog:?}"
    );
    doc.screenshot(&shots.join("07c-discard-dialog.png"))
        .await?;
    doc.click(By::Css("[data-testid=confirm-ok]")).await?;
    wait_notice(doc, "Change discarded.").await?;
    doc.find(By::Css("[data-testid=unsent-empty]")).await?;
    wait_status(doc, "pending", "Synced", |t| t == "Synced").await?;
    ensure!(
        doc.count(By::Css("[data-testid=rejected]")).await? == 0,
        "the rejected count is still shown"
    );

    // The discard reached the server's audit trail with the push that followed it.
    let deadline = std::time::Instant::now() + SYNC_WAIT;
    loop {
        let audit =
            server_list(admin, &format!("/v1/clinics/{clinic}/audit?action=discard")).await?;
        if audit.iter().any(|e| e["entity_type"] == "encounter") {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "no discard in the server's audit trail: {audit:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    set_role("doctor").await?;
    println!("  discarded on the Unsent changes screen (audited); the status bar is Synced");
    Ok(())
}

/// A list endpoint that answers a plain JSON array (not a page).
async fn server_list_plain(api: &Api, path: &str) -> Result<Vec<Value>> {
    let (status, body) = api.get(path).await?;
    ensure!(status.is_success(), "{path}: {status} {body}");
    Ok(body.as_array().cloned().unwrap_or_default())
}

/// A page of a list endpoint as one clinic member sees it: its items.
async fn server_list(api: &Api, path: &str) -> Result<Vec<Value>> {
    let (status, body) = api.get(path).await?;
    ensure!(status.is_success(), "GET {path}: {status} {body}");
    Ok(body["items"].as_array().cloned().unwrap_or_default())
}

async fn clinic_day() -> Result<()> {
    let h = Harness::start().await?;
    let world = World::create(&h).await?;
    let a = world.a.id;
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    // The group's IT has published a newer desktop release on the server.
    let releases = tempfile::tempdir()?;
    std::fs::write(
        releases.path().join("latest.json"),
        serde_json::to_vec(&serde_json::json!({
            "version": "9.9.9",
            "notes": "Faster search",
            "platforms": {
                "linux-x86_64": {"url": "https://releases.example.in/Vaidya.AppImage", "signature": "dW5zaWduZWQ="}
            }
        }))?,
    )?;
    let mut server =
        ServerProcess::start(&world.db.app_url, addr, releases.path().to_owned()).await?;
    let base = format!("http://{addr}");
    let shots = artifacts()?;
    let app = app_binary();
    let (admin_a, _) = Api {
        http: reqwest::Client::new(),
        base: base.clone(),
        token: None,
    }
    .login(&world.a.admin.email, &world.a.admin.password)
    .await?;

    // ---- the doctor's desk, online
    // The doctor's PC has a 1366×768 monitor, the front desk's a 1024×640 one: every step
    // of the day runs at those sizes, and each main screen is checked for sideways scrolling.
    let doctor_screen = SmallScreen::start(1366, 768)?;
    let desk_screen = SmallScreen::start(1024, 640)?;
    let doctor_pc = Device::start(&doctor_screen).await?;
    let doc = doctor_pc.driver.session(&app).await?;
    let result = async {
        doc.find(By::Css("form.sign-in")).await?;
        doc.screenshot(&shots.join("01-sign-in.png")).await?;
        // A shared PC: the front desk signed in here this morning, then handed over.
        sign_in(&doc, &base, &world.a.desk).await?;
        sign_out(&doc).await?;
        sign_in(&doc, &base, &world.a.doctor).await?;
        println!("  signed in as the front desk, then as the doctor of clinic A");
        // The server's newer release is offered; this build carries no release key, so it
        // asks for the update to be installed by hand, and "Later" puts the banner away.
        doc.wait_text(
            By::Css("[data-testid=update-banner]"),
            "the update banner",
            Duration::from_secs(10),
            |t| t.contains("Vaidya 9.9.9 is available") && t.contains("install Vaidya 9.9.9"),
        )
        .await?;
        ensure!(
            doc.count(By::Css("[data-testid=update-install]")).await? == 0,
            "a build without the release key offers to install"
        );
        doc.screenshot(&shots.join("01b-update-available.png")).await?;
        doc.click(By::Css("[data-testid=update-later]")).await?;
        ensure!(
            doc.count(By::Css("[data-testid=update-banner]")).await? == 0,
            "Later left the update banner up"
        );
        println!("  the server's newer release is announced; Later puts it away");
        second_launch_leaves_the_running_app(&app, &doctor_pc).await?;
        doc.find(By::Css("[data-testid=clinic-name]")).await?;
        println!("  a second launch on the same data directory closed; the first app runs on");

        // A form with unsaved input asks before it is left, naming what would be lost.
        doc.click(By::Css("[data-testid=nav-desk]")).await?;
        doc.click(By::Css("[data-testid=register-patient]")).await?;
        doc.fill(By::Css("#f-name"), "Half typed").await?;
        doc.click(By::Css("[data-testid=nav-doctor]")).await?;
        doc.wait_text(
            By::Css("[data-testid=confirm-dialog]"),
            "the leave-without-saving question",
            Duration::from_secs(5),
            |t| t.contains("the patient form"),
        )
        .await?;
        doc.click(By::Css("[data-testid=confirm-cancel]")).await?;
        let kept = doc
            .execute("return document.querySelector('#f-name').value;")
            .await?;
        ensure!(kept.as_str() == Some("Half typed"), "staying lost the input: {kept}");
        doc.click(By::XPath(
            "//form[@data-testid='patient-form']//button[normalize-space()='Cancel']",
        ))
        .await?;
        doc.click(By::Css("[data-testid=confirm-ok]")).await?;
        ensure!(
            doc.count(By::Css("[data-testid=patient-form]")).await? == 0,
            "leaving without saving kept the form open"
        );
        println!("  leaving a half-typed form asks first; staying keeps the input");
        register_patient(&doc, "Meera Deshpande", "07/04/1990", "98450 12345").await?;
        doc.screenshot(&shots.join("02-patient-registered.png"))
            .await?;
        fits_the_width(&doc, "the front desk's patient card").await?;
        doc.click(By::XPath(&format!(
            "//article[@data-testid='patient-card']{}",
            button("Book")
        )))
        .await?;
        doc.fill(By::Css("#f-appt-start"), "11:30").await?;
        // Enter twice in a row, as an impatient front desk does: one booking.
        doc.keys(By::Css("#f-appt-start"), "\u{E007}\u{E007}")
            .await?;
        wait_notice(&doc, "Appointment booked.").await?;
        let meera_slot =
            By::XPath("//div[contains(@class,'appt')]//span[normalize-space()='Meera Deshpande']");
        doc.find(meera_slot).await?;
        // And once more after the notice: the form now waits for the next patient.
        doc.keys(By::Css("#f-appt-start"), "\u{E007}").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let booked = doc.count(meera_slot).await?;
        ensure!(booked == 1, "a double Enter booked Meera {booked} times");
        println!("  a double Enter (and a third) booked one appointment");
        // Cancelling asks first; "Keep it" keeps the booking.
        doc.click(By::XPath(
            "//div[contains(@class,'appt')][.//span[normalize-space()='Meera Deshpande']]//button[normalize-space()='Cancel']",
        ))
        .await?;
        doc.find(By::Css("[data-testid=confirm-dialog]")).await?;
        doc.click(By::Css("[data-testid=confirm-cancel]")).await?;
        ensure!(
            doc.count(By::Css("[data-testid=confirm-dialog]")).await? == 0
                && doc.count(meera_slot).await? == 1,
            "keeping the appointment did not keep it"
        );
        doc.screenshot(&shots.join("03-appointments.png")).await?;
        fits_the_width(&doc, "the appointments day and booking form").await?;
        wait_status(&doc, "pending", "Synced", |t| t == "Synced").await?;
        let on_server =
            server_list(&admin_a, &format!("/v1/clinics/{a}/patients?q=Deshpande")).await?;
        ensure!(
            on_server.len() == 1,
            "the server has {} Deshpande patients",
            on_server.len()
        );
        let meera = on_server[0]["id"]
            .as_str()
            .context("patient id")?
            .to_owned();
        let appts = server_list(
            &admin_a,
            &format!("/v1/clinics/{a}/appointments?patient_id={meera}"),
        )
        .await?;
        ensure!(
            appts.len() == 1,
            "{} appointments of the patient on the server",
            appts.len()
        );
        println!("  registered and booked online; the server has both");
        indic_names_print(&doc).await?;

        // ---- the server goes away
        server.stop();
        wait_status(&doc, "net-state", "Offline", |t| t == "Offline").await?;
        println!("  server stopped; the app shows Offline");

        register_patient(&doc, "Ravi Kulkarni", "15/08/1962", "91234 56780").await?;
        doc.screenshot(&shots.join("04-offline-patient.png"))
            .await?;

        doc.click(By::Css("[data-testid=nav-doctor]")).await?;
        choose_patient(&doc, ".doctor aside", "Kulkarni").await?;
        // An allergy noted offline (the shared rules let a doctor note it on the device).
        doc.fill(By::Css("#f-allergy-substance"), "Paracetamol")
            .await?;
        doc.fill(By::Css("#f-allergy-reaction"), "Rash").await?;
        doc.click(By::XPath(&button("Add allergy"))).await?;
        doc.find(By::XPath(
            "//section[@data-testid='allergies']//strong[normalize-space()='Paracetamol']",
        ))
        .await?;
        doc.fill(By::Css("#f-cc"), "Fever and dry cough for 3 days")
            .await?;
        doc.fill(
            By::Css("#f-notes"),
            "Throat congested. Chest clear. No breathlessness.",
        )
        .await?;
        doc.fill(By::Css("#f-dx"), "Acute upper respiratory tract infection")
            .await?;
        // The sign button asks first, in the app's own dialog; the doctor says yes.
        doc.click(By::XPath(&button("Sign note"))).await?;
        doc.find(By::Css("[data-testid=confirm-dialog]")).await?;
        doc.click(By::Css("[data-testid=confirm-ok]")).await?;
        doc.find(By::Css(".signed-note")).await?;
        doc.keys(
            By::Css(".rx-editor input[type=search]"),
            "Paracetamol\u{E007}",
        )
        .await?;
        doc.find(By::Css(".rx-editor table.lines tbody tr")).await?;
        // The pad warns about the allergy and will not issue until the doctor acknowledges it.
        doc.find(By::Css("[data-testid=allergy-warnings]")).await?;
        let blocked = doc
            .execute("return document.querySelector('.rx-editor .actions button.primary').disabled;")
            .await?;
        ensure!(
            blocked == Value::Bool(true),
            "the pad would issue without the allergy acknowledged"
        );
        doc.click(By::Css("[data-testid=allergy-ack]")).await?;
        doc.click(By::XPath(&button("Sign and issue"))).await?;
        doc.click(By::Css("[data-testid=confirm-ok]")).await?;
        wait_notice(&doc, "Prescription issued.").await?;
        // The signed visit shows beside the editor; the last prescription repeats in a click.
        doc.find(By::Css("[data-testid=last-visit]")).await?;
        doc.click(By::Css("[data-testid=repeat-prescription]"))
            .await?;
        doc.wait_text(
            By::Css(".rx-editor table.lines tbody"),
            "the repeated prescription on the pad",
            Duration::from_secs(10),
            |t| t.contains("Paracetamol"),
        )
        .await?;
        doc.click(By::XPath(
            "//div[contains(@class,'rx-editor')]//button[normalize-space()='Remove']",
        ))
        .await?;
        println!("  the last visit beside the editor; the last prescription repeated onto the pad");
        doc.execute("document.querySelector('.chart .signed-note').scrollIntoView({ block: 'center' }); return true;")
            .await?;
        doc.screenshot(&shots.join("05-offline-chart.png")).await?;
        fits_the_width(&doc, "the doctor's chart and pad").await?;

        doc.click(By::Css("[data-testid=nav-desk]")).await?;
        doc.click(By::Css("[data-testid=tab-invoices]")).await?;
        choose_patient(&doc, ".front-desk", "Kulkarni").await?;
        doc.fill(
            By::Css(".invoice-editor input[aria-label='Unit price (₹)']"),
            "500",
        )
        .await?;
        // Billed to the patient's employer, with its GSTIN (a B2B invoice), offline.
        doc.click(By::Css(".invoice-editor input[name=invoice-business]"))
            .await?;
        doc.fill(By::Css("#f-recipient-gstin"), "29aagca1234d1z4")
            .await?;
        doc.fill(By::Css("#f-recipient-name"), "Acme Software Pvt Ltd")
            .await?;
        doc.click(By::XPath(&button("Issue invoice"))).await?;
        doc.click(By::Css("[data-testid=confirm-ok]")).await?;
        wait_notice(&doc, "Invoice issued.").await?;
        // The engine may be in one of its offline retries ("Syncing…") for a moment.
        let pending = doc
            .wait_text(
                By::Css("[data-testid=pending]"),
                "the pending count",
                Duration::from_secs(15),
                |t| t.starts_with(|c: char| c.is_ascii_digit()),
            )
            .await?;
        let waiting: u32 = pending
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("the status bar says {pending:?}, not a pending count"))?;
        ensure!(
            waiting >= 5,
            "only {waiting} changes waiting after five offline writes"
        );
        doc.screenshot(&shots.join("06-offline-invoice-pending.png"))
            .await?;
        fits_the_width(&doc, "the invoice editor").await?;
        credit_note_and_pdfs(&doc, &world.a).await?;
        println!("  offline: patient, signed note, prescription, invoice; status bar: {pending}");

        // Nothing readable on disk while it waits.
        for entry in std::fs::read_dir(doctor_pc.data_dir.path().join("partitions"))? {
            let bytes = std::fs::read(entry?.path())?;
            ensure!(
                !bytes.windows(8).any(|w| w == b"Kulkarni"),
                "a partition file holds the patient's name in plain text"
            );
        }

        // ---- a hand-over in the outage: the front desk takes the PC with her password,
        // registers a walk-in and hands it back; the doctor signs in again, offline too.
        // Signing out with work waiting and no server says so first.
        sign_out_confirming(&doc).await?;
        sign_in(&doc, &base, &world.a.desk).await?;
        register_patient(&doc, "Sunita Pawar", "02/02/1985", "98220 11111").await?;
        sign_out_confirming(&doc).await?;
        sign_in(&doc, &base, &world.a.doctor).await?;
        wait_status(&doc, "net-state", "Offline", |t| t == "Offline").await?;
        println!("  offline hand-over: the front desk registered a walk-in, the doctor is back");

        // ---- the server returns. The doctor's offline sign-in holds no server session, so
        // the status bar asks for the password once; then everything syncs.
        server.restart().await?;
        doc.wait_text(
            By::Css("[data-testid=sign-in-again]"),
            "the status bar's sign-in-again button",
            SYNC_WAIT,
            |t| !t.is_empty(),
        )
        .await?;
        doc.click(By::Css("[data-testid=sign-in-again]")).await?;
        sign_in(&doc, &base, &world.a.doctor).await?;
        wait_status(&doc, "pending", "Synced", |t| t == "Synced").await?;
        wait_status(&doc, "net-state", "Online", |t| t == "Online").await?;
        doc.screenshot(&shots.join("07-synced.png")).await?;
        let ravi = server_list(&admin_a, &format!("/v1/clinics/{a}/patients?q=Kulkarni")).await?;
        ensure!(
            ravi.len() == 1,
            "the server has {} Kulkarni patients",
            ravi.len()
        );
        ensure!(
            ravi[0]["patient_number"].as_i64() > Some(0),
            "no patient number assigned"
        );
        let ravi_id = ravi[0]["id"].as_str().context("patient id")?.to_owned();
        let (doctor_a, _) = admin_a
            .login(&world.a.doctor.email, &world.a.doctor.password)
            .await?;
        let notes = server_list(
            &doctor_a,
            &format!("/v1/clinics/{a}/encounters?patient_id={ravi_id}"),
        )
        .await?;
        ensure!(
            notes.len() == 1 && !notes[0]["signed_at"].is_null(),
            "the offline note did not arrive signed: {notes:?}"
        );
        let rx = server_list(
            &doctor_a,
            &format!("/v1/clinics/{a}/prescriptions?patient_id={ravi_id}"),
        )
        .await?;
        ensure!(rx.len() == 1, "{} prescriptions on the server", rx.len());
        // A patient's allergies come whole (a short list), not as a page.
        let (status, body) = doctor_a
            .get(&format!("/v1/clinics/{a}/patients/{ravi_id}/allergies"))
            .await?;
        ensure!(status.is_success(), "GET allergies: {status} {body}");
        let allergies = body.as_array().cloned().unwrap_or_default();
        ensure!(
            allergies.len() == 1 && allergies[0]["noted_by"] == world.a.doctor.id.to_string(),
            "the offline allergy on the server: {allergies:?}"
        );
        ensure!(
            rx[0]["acknowledged_allergies"] == serde_json::json!([allergies[0]["id"]]),
            "the prescription does not carry the acknowledged allergy: {}",
            rx[0]
        );
        let invoices = server_list(
            &admin_a,
            &format!("/v1/clinics/{a}/invoices?patient_id={ravi_id}"),
        )
        .await?;
        ensure!(
            invoices.len() == 1
                && invoices[0]["recipient"]
                    == serde_json::json!({"gstin": "29AAGCA1234D1Z4", "name": "Acme Software Pvt Ltd"}),
            "the offline B2B invoice on the server: {invoices:?}"
        );
        let note = &invoices[0]["credit_notes"][0];
        ensure!(
            note["credit_note_number"]
                .as_str()
                .is_some_and(|n| n.contains("-C"))
                && note["totals"]["taxable_paise"] == 20_000,
            "the offline credit note on the server: {}",
            invoices[0]
        );
        // The walk-in is the front desk's on the server, though the doctor's session sent it.
        let sunita = server_list(&admin_a, &format!("/v1/clinics/{a}/patients?q=Pawar")).await?;
        let sunita_id = sunita
            .first()
            .and_then(|p| p["id"].as_str())
            .context("the walk-in reached the server")?
            .to_owned();
        let created = server_list(
            &admin_a,
            &format!("/v1/clinics/{a}/audit?action=create&patient_id={sunita_id}"),
        )
        .await?;
        ensure!(
            created.iter().any(|e| e["entity_type"] == "patient"
                && e["actor_id"] == world.a.desk.id.to_string()),
            "the walk-in is not the front desk's on the server: {created:?}"
        );
        println!(
            "  server back: everything synced (patient #{}, signed note, prescription, invoice; the walk-in as the front desk's)",
            ravi[0]["patient_number"]
        );

        rejected_change_is_discarded(&doc, &mut server, &admin_a, a, &world.a.doctor, &shots)
            .await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        let _ = doc.screenshot(&shots.join("99-failure-doctor.png")).await;
        return Err(e);
    }

    // ---- a second client of the same clinic: the front desk PC
    let desk_pc = Device::start(&desk_screen).await?;
    let desk = desk_pc.driver.session(&app).await?;
    let result = async {
        sign_in(&desk, &base, &world.a.desk).await?;
        wait_status(&desk, "pending", "Synced", |t| t == "Synced").await?;
        desk.fill(
            By::Css(".front-desk input[name=patient-search]"),
            "Kulkarni",
        )
        .await?;
        desk.wait_text(
            By::Css(".front-desk ul.results li .pname"),
            "the offline patient",
            SYNC_WAIT,
            |t| t == "Ravi Kulkarni",
        )
        .await?;
        desk.click(By::Css(".front-desk ul.results li")).await?;
        desk.wait_text(
            By::Css("[data-testid=allergy-badge]"),
            "the allergy badge on the front desk's card",
            SYNC_WAIT,
            |t| t.contains("Paracetamol"),
        )
        .await?;
        desk.screenshot(&shots.join("08-second-client-search.png"))
            .await?;
        fits_the_width(&desk, "the front desk's search and card").await?;
        println!("  the front desk's app has the doctor's offline work, allergy badge included");

        // A live change: the doctor registers someone; the desk finds them without a restart.
        register_patient(&doc, "Sunita Patil", "02/02/1985", "99887 66554").await?;
        let deadline = std::time::Instant::now() + SYNC_WAIT;
        loop {
            desk.fill(By::Css(".front-desk input[name=patient-search]"), "Patil")
                .await?;
            tokio::time::sleep(Duration::from_millis(400)).await;
            if desk
                .count(By::XPath(
                    "//ul[contains(@class,'results')]//span[normalize-space()='Sunita Patil']",
                ))
                .await?
                > 0
            {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "the live change never reached the desk"
            );
        }
        println!("  a live change reached the desk");

        // A walk-in, by keyboard only: "/" to the search, the name, Enter to register the
        // name typed (the form opens on the next field), the date of birth, Tab, the mobile,
        // Ctrl+Enter to save and check in with the doctor. Keys beyond the patient's data
        // are counted.
        let mut strokes = 0;
        // The "/" that takes the focus to the search from anywhere: counted, though the
        // search already has the focus here.
        strokes += 1;
        desk.fill(
            By::Css(".front-desk input[name=patient-search]"),
            "Sunil Mehta",
        )
        .await?;
        desk.find(By::Css("[data-testid=register-typed]")).await?;
        desk.keys(By::Css(":focus"), "\u{E007}").await?;
        strokes += 1;
        desk.find(By::Css("[data-testid=patient-form]")).await?;
        // A person looks at the form before typing on: the focus is on the date of birth by
        // then (a script typing at once would race the focus into the search box).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while desk
            .execute("return document.activeElement && document.activeElement.id;")
            .await?
            != "f-dob"
        {
            ensure!(
                std::time::Instant::now() < deadline,
                "the focus never reached the date of birth"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        desk.keys(By::Css(":focus"), "12/03/1985").await?;
        desk.keys(By::Css(":focus"), "\u{E004}").await?;
        strokes += 1;
        desk.keys(By::Css(":focus"), "98220 55555").await?;
        desk.keys(By::Css(":focus"), "\u{E009}\u{E007}\u{E000}").await?;
        strokes += 2;
        desk.wait_text(
            By::Css(".front-desk .banner.ok"),
            "the walk-in's place in the queue",
            Duration::from_secs(15),
            |t| t.contains("Sunil Mehta is in today's queue"),
        )
        .await?;
        // Alt+Q: the queue (the shortcut is shown on its tab).
        desk.keys(
            By::Css(".front-desk input[name=patient-search]"),
            "\u{E00A}q\u{E000}",
        )
        .await?;
        desk.wait_text(
            By::Css(".queue-columns"),
            "the walk-in checked in",
            Duration::from_secs(15),
            |t| t.contains("Sunil Mehta") && t.contains("Checked in") && t.contains("waiting"),
        )
        .await?;
        ensure!(strokes <= 25, "{strokes} keystrokes beyond the data");
        let shown = desk
            .execute("return document.querySelector('[data-testid=tab-queue]').getAttribute('aria-keyshortcuts');")
            .await?;
        ensure!(
            shown.as_str().is_some_and(|t| t.contains("Alt+Q")),
            "the queue tab does not show its shortcut: {shown}"
        );
        // Alt+C: the doctor's next waiting patient goes in.
        desk.keys(By::Css(".front-desk select"), "\u{E00A}c\u{E000}")
            .await?;
        desk.wait_text(
            By::XPath("//li[.//span[@class='pname' and normalize-space()='Sunil Mehta']]"),
            "the walk-in called in",
            Duration::from_secs(15),
            |t| t.contains("In consultation"),
        )
        .await?;
        println!("  Alt+Q opened the queue and Alt+C called the walk-in in");
        desk.screenshot(&shots.join("08b-queue-1024x640.png"))
            .await?;
        fits_the_width(&desk, "the queue").await?;
        for tab in ["appointments", "invoices", "collections"] {
            desk.click(By::Css(&format!("[data-testid=tab-{tab}]")))
                .await?;
            fits_the_width(&desk, &format!("the front desk's {tab}")).await?;
        }
        double_booking_decided_in_the_inbox(&desk, &admin_a, a).await?;
        desk.click(By::Css("[data-testid=tab-patients]")).await?;
        println!("  a walk-in registered and checked in by keyboard: {strokes} keystrokes beyond the patient's data (target ≤ 25)");
        desk.click(By::XPath(&button("Sign out"))).await?;
        desk.find(By::Css("form.sign-in")).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        let _ = desk.screenshot(&shots.join("99-failure-desk.png")).await;
        return Err(e);
    }
    desk.close().await?;

    // ---- another branch's doctor on the same computer sees none of it
    let other = desk_pc.driver.session(&app).await?;
    let result = async {
        sign_in(&other, &base, &world.b.doctor).await?;
        wait_status(&other, "pending", "Synced", |t| t == "Synced").await?;
        other.click(By::Css("[data-testid=nav-desk]")).await?;
        for name in ["Kulkarni", "Deshpande", "Patil"] {
            other
                .fill(By::Css(".front-desk input[name=patient-search]"), name)
                .await?;
            other
                .find(By::XPath(
                    "//p[contains(normalize-space(),'No patient matches')]",
                ))
                .await?;
            ensure!(
                other.count(By::Css(".front-desk ul.results li")).await? == 0,
                "clinic B's doctor sees clinic A's patient {name}"
            );
        }
        other.screenshot(&shots.join("09-other-branch.png")).await?;
        println!("  clinic B's doctor finds none of clinic A's patients");

        // Clinic A's admin reviews the day on the same PC: members and the audit trail.
        other.click(By::XPath(&button("Sign out"))).await?;
        sign_in(&other, &base, &world.a.admin).await?;
        other.click(By::Css("[data-testid=nav-admin]")).await?;
        other.find(By::Css("table.grid tbody tr")).await?;
        // Which PCs hold each member's data (their device keys): this PC signed in as both.
        other
            .wait_text(
                By::Css("table.grid tbody"),
                "the members' devices",
                Duration::from_secs(15),
                |t| t.matches(" · ").count() >= 2,
            )
            .await?;
        // The clinic's hub (the test world registers one): listed, and revoked from here.
        other
            .wait_text(
                By::Css("[data-testid=hubs]"),
                "the clinic's hubs",
                Duration::from_secs(15),
                |t| t.contains("Hub a"),
            )
            .await?;
        other.click(By::Css("[data-testid=hub-revoke]")).await?;
        other.click(By::Css("[data-testid=confirm-ok]")).await?;
        other
            .wait_text(
                By::Css("[data-testid=hubs]"),
                "the revoked hub",
                Duration::from_secs(15),
                |t| t.contains("Revoked"),
            )
            .await?;
        ensure!(
            other.count(By::Css("[data-testid=hub-revoke]")).await? == 0,
            "a revoked hub still offers Revoke"
        );
        let hubs = server_list_plain(&admin_a, &format!("/v1/clinics/{a}/hubs")).await?;
        ensure!(
            hubs.iter().all(|h| h["revoked_at"].is_string()),
            "the hub is not revoked on the server: {hubs:?}"
        );
        println!("  clinic A's admin revokes the clinic's hub");
        other.click(By::XPath(&button("Audit trail"))).await?;
        other.find(By::Css("table.audit tbody tr")).await?;
        other.screenshot(&shots.join("10-admin-audit.png")).await?;
        fits_the_width(&other, "the audit trail").await?;
        println!("  clinic A's admin sees the audit trail");
        // "Who viewed this patient": from the patient's card, by name, no ids.
        other.click(By::Css("[data-testid=nav-desk]")).await?;
        choose_patient(&other, ".front-desk", "Kulkarni").await?;
        other
            .wait_text(
                By::Css("[data-testid=patient-card] h2"),
                "Ravi Kulkarni's card",
                Duration::from_secs(10),
                |t| t.contains("Ravi Kulkarni"),
            )
            .await?;
        // The card settles (its allergy badge loads) before the click lands on it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.click(By::Css("[data-testid=access-log]")).await?;
        other
            .wait_text(
                By::Css("[data-testid=audit-patient]"),
                "the access log's patient",
                Duration::from_secs(10),
                |t| t.contains("Ravi Kulkarni"),
            )
            .await?;
        let rows = other
            .wait_text(
                By::Css("table.audit tbody"),
                "the patient's accesses",
                Duration::from_secs(15),
                |t| t.contains("Doctor a") || t.contains("doctor a"),
            )
            .await?;
        ensure!(!rows.is_empty(), "no access to Ravi Kulkarni listed");
        other.screenshot(&shots.join("10b-access-log.png")).await?;
        println!("  the patient's access log, opened from their card, names who read them");
        // The admin adds to the catalogue; it reaches the server (and every PC with a sync).
        other.click(By::Css("[data-testid=tab-catalogue]")).await?;
        other.fill(By::Css("#f-item-name"), "Chemical peel").await?;
        other.fill(By::Css("#f-item-sac"), "999722").await?;
        other
            .execute("const s = document.querySelector('#item-tax'); s.value = '1800'; s.dispatchEvent(new Event('change', { bubbles: true })); return true;")
            .await?;
        other.fill(By::Css("#f-item-price"), "2500").await?;
        other.click(By::XPath(&button("Add item"))).await?;
        other
            .wait_text(
                By::Css("[data-testid=catalogue] tbody"),
                "the new catalogue item",
                Duration::from_secs(15),
                |t| t.contains("Chemical peel") && t.contains("18"),
            )
            .await?;
        let mut on_server = Vec::new();
        for _ in 0..50 {
            on_server = server_list_plain(&admin_a, &format!("/v1/clinics/{a}/catalogue")).await?;
            if !on_server.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ensure!(
            on_server.len() == 1 && on_server[0]["gst_rate_bp"] == 1800 && on_server[0]["price_paise"] == 250_000,
            "the catalogue item on the server: {on_server:?}"
        );
        other.screenshot(&shots.join("11-admin-catalogue.png")).await?;
        fits_the_width(&other, "the admin's catalogue").await?;
        println!("  the admin added a catalogue item; the server has it");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        let _ = other.screenshot(&shots.join("99-failure-other.png")).await;
        return Err(e);
    }
    other.close().await?;
    let doc = note_survives_a_restart(doc, &doctor_pc, &app).await?;
    doc.close().await?;
    role_changed_while_away(&world, &mut server, &doctor_pc, &app).await?;
    session_ended_while_away(&world, &doctor_pc, &app).await?;
    drop(server);
    Ok(())
}

/// The app opens the last clinic from the keyring at once, in the role kept there, even
/// with the server down. The group's admin moved the doctor to the nurses' roster
/// meanwhile: when the server is back, the session goes online in the same run, and the
/// clinic closes and opens again in the new role.
async fn role_changed_while_away(
    world: &vaidya_tests::World,
    server: &mut ServerProcess,
    pc: &Device,
    app: &std::path::Path,
) -> Result<()> {
    server.stop();
    let su = world.db.superuser().await?;
    let moved = su
        .execute(
            "UPDATE vaidya.memberships SET role = 'nurse' WHERE clinic_id = $1 AND user_id = $2",
            &[&world.a.id, &world.a.doctor.id],
        )
        .await?;
    ensure!(moved == 1, "the doctor's membership was not found");
    let s = pc.driver.session(app).await?;
    let result = async {
        s.wait_text(
            By::Css(".role-badge"),
            "the role kept on the PC, with the server down",
            Duration::from_secs(20),
            |t| t.contains("Doctor"),
        )
        .await?;
        server.restart().await?;
        s.wait_text(
            By::Css(".role-badge"),
            "the role badge once the server is back",
            Duration::from_secs(30),
            |t| t.contains("Nurse"),
        )
        .await?;
        s.find(By::Css("[data-testid=clinic-name]")).await?;
        println!(
            "  a role changed while the server was down: the clinic opened as the doctor, then again as a nurse"
        );
        Ok(())
    }
    .await;
    if let Err(e) = &result {
        let _ = s
            .screenshot(&artifacts()?.join("99-failure-role-changed.png"))
            .await;
        eprintln!("role_changed_while_away: {e}");
    }
    s.close().await?;
    result
}

/// The app shows the session kept in the keyring at once and asks the server in the
/// background. A session ended on the server while the app was closed (signed out on another
/// device, or by the group's IT) must not stay usable: the app goes back to the sign-in and
/// says why, whatever it showed first.
async fn session_ended_while_away(
    world: &vaidya_tests::World,
    pc: &Device,
    app: &std::path::Path,
) -> Result<()> {
    let su = world.db.superuser().await?;
    let ended = su
        .execute(
            "UPDATE vaidya.sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
            &[&world.a.doctor.id],
        )
        .await?;
    ensure!(ended > 0, "the doctor had no session to end");
    let doc = pc.driver.session(app).await?;
    let result = async {
        doc.wait_text(
            By::Css("[role=alert]"),
            "the ended session's message",
            Duration::from_secs(20),
            |t| t.contains("session has ended"),
        )
        .await?;
        doc.find(By::Css("form.sign-in")).await?;
        ensure!(
            doc.count(By::Css("[data-testid=clinic-name]")).await? == 0,
            "the clinic stayed open after the server refused the session"
        );
        println!("  a session ended on the server while the app was closed: back to the sign-in");
        Ok(())
    }
    .await;
    if let Err(e) = &result {
        let _ = doc
            .screenshot(&artifacts()?.join("99-failure-session-ended.png"))
            .await;
        eprintln!("session_ended_while_away: {e}");
    }
    doc.close().await?;
    result
}

/// A note being typed is kept on the PC as it is typed: the app closed mid-sentence (a
/// crash, a power cut, a restart) brings it back, unsaved, in the editor.
async fn note_survives_a_restart(
    doc: Session,
    pc: &Device,
    app: &std::path::Path,
) -> Result<Session> {
    const TYPED: &str = "Typed before the app closed: knee pain on climbing stairs";
    // A patient half registered: leaving the form asks, and says the input is kept.
    doc.click(By::Css("[data-testid=nav-desk]")).await?;
    doc.click(By::Css("[data-testid=tab-patients]")).await?;
    doc.click(By::Css("[data-testid=register-patient]")).await?;
    doc.fill(By::Css("#f-name"), "Lakshmi Iyer").await?;
    doc.fill(By::Css("#f-dob"), "62").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    doc.click(By::Css("[data-testid=nav-doctor]")).await?;
    doc.wait_text(
        By::Css("[data-testid=confirm-dialog]"),
        "the leave question",
        Duration::from_secs(5),
        |t| t.contains("is kept on this computer"),
    )
    .await?;
    doc.click(By::Css("[data-testid=confirm-ok]")).await?;
    choose_patient(&doc, ".doctor aside", "Deshpande").await?;
    doc.fill(By::Css("#f-notes"), TYPED).await?;
    doc.wait_text(
        By::Css("[data-testid=note-kept]"),
        "the note kept on this PC",
        Duration::from_secs(10),
        |t| t.contains("Kept on this PC"),
    )
    .await?;
    doc.close().await?;
    let doc = pc.driver.session(app).await?;
    doc.find(By::Css("[data-testid=clinic-name]")).await?;
    doc.click(By::Css("[data-testid=nav-doctor]")).await?;
    choose_patient(&doc, ".doctor aside", "Deshpande").await?;
    doc.find(By::Css("[data-testid=note-restored]")).await?;
    let notes = doc
        .execute("return document.querySelector('#f-notes').value;")
        .await?;
    ensure!(
        notes.as_str() == Some(TYPED),
        "after the restart the note reads {notes}"
    );
    // The half-registered patient too; registered from there, the age gives the date.
    doc.click(By::Css("[data-testid=nav-desk]")).await?;
    doc.click(By::Css("[data-testid=tab-patients]")).await?;
    doc.click(By::Css("[data-testid=register-patient]")).await?;
    doc.find(By::Css("[data-testid=form-restored]")).await?;
    let kept = doc
        .execute("return [document.querySelector('#f-name').value, document.querySelector('#f-dob').value];")
        .await?;
    ensure!(
        kept == serde_json::json!(["Lakshmi Iyer", "62"]),
        "after the restart the patient form reads {kept}"
    );
    doc.fill(By::Css("#f-phone"), "98450 22222").await?;
    doc.click(By::Css("[data-testid=patient-form] button[type=submit]"))
        .await?;
    let facts = doc
        .wait_text(
            By::Css("[data-testid=patient-card]"),
            "the registered patient's card",
            Duration::from_secs(15),
            |t| t.contains("Lakshmi Iyer"),
        )
        .await?;
    let born = chrono::Utc::now().date_naive() - chrono::Months::new(62 * 12);
    // The clinic's date (IST) may be a day ahead of UTC's; either is the age's date.
    let plausible = [born, born + chrono::Days::new(1)].map(|d| d.format("%d/%m/%Y").to_string());
    ensure!(
        plausible.iter().any(|d| facts.contains(d.as_str())),
        "the age 62 did not give a date of birth of {plausible:?}: {facts}"
    );
    // Saved: the form opens empty again.
    doc.click(By::Css("[data-testid=register-patient]")).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    ensure!(
        doc.count(By::Css("[data-testid=form-restored]")).await? == 0,
        "a registered patient's form came back"
    );
    doc.click(By::XPath(
        "//form[@data-testid='patient-form']//button[normalize-space()='Cancel']",
    ))
    .await?;
    println!("  a note and a half-registered patient typed but not saved came back after the app was closed and opened again");
    Ok(doc)
}

/// An X display of its own with a 1366×768 screen (the commonest clinic PC), for as long as
/// this lives.
struct SmallScreen {
    xvfb: Child,
    display: String,
}

impl SmallScreen {
    /// An X screen of `width`×`height` (a clinic PC's monitor), without a window manager.
    fn start(width: u32, height: u32) -> Result<SmallScreen> {
        // Xvfb picks a free display number itself and writes it to `-displayfd` once it
        // accepts connections: no guess at which numbers are free (sockets left by killed
        // servers make such a guess fail) and no race with another run picking the same one.
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &format!("{width}x{height}x24"),
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb (package xvfb)")?;
        let mut number = String::new();
        // Ends at the number's newline, or at EOF if Xvfb exits without a display.
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(xvfb.stdout.take().context("Xvfb's stdout")?),
            &mut number,
        )?;
        match number.trim().parse::<u32>() {
            Ok(number) => Ok(SmallScreen {
                xvfb,
                display: format!(":{number}"),
            }),
            Err(_) => {
                let _ = xvfb.kill();
                let _ = xvfb.wait();
                bail!("Xvfb did not open a display (it said {number:?})")
            }
        }
    }
}

impl Drop for SmallScreen {
    fn drop(&mut self) {
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// The app opened on a 1366×768 screen fits it: the window (1280×820 by default) is brought
/// inside the screen's work area, so the status bar is on screen, not under the taskbar.
async fn window_fits_a_small_screen() -> Result<()> {
    let screen = SmallScreen::start(1366, 768)?;
    let data_dir = tempfile::tempdir()?;
    let dir = data_dir
        .path()
        .to_str()
        .context("data dir path")?
        .to_owned();
    let service = format!("vaidya-e2e-{}", Uuid::new_v4());
    let driver = Driver::start(
        free_port()?,
        free_port()?,
        &[
            ("DISPLAY", &screen.display),
            ("VAIDYA_DATA_DIR", &dir),
            ("VAIDYA_KEYRING_SERVICE", &service),
        ],
    )
    .await?;
    let s = driver.session(&app_binary()).await?;
    s.find(By::Css("form.sign-in")).await?;
    // Laid out at the fitted size (the first layout may be the configured one).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (height, bar_bottom) = loop {
        let v = s
            .execute(
                "const bar = document.querySelector('.status-bar');
                 return [window.innerHeight, bar ? bar.getBoundingClientRect().bottom : -1];",
            )
            .await?;
        let height = v[0].as_f64().context("innerHeight")?;
        let bottom = v[1].as_f64().context("status bar")?;
        if height <= 768.0 || std::time::Instant::now() > deadline {
            break (height, bottom);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    s.screenshot(&artifacts()?.join("00-sign-in-1366x768.png"))
        .await?;
    ensure!(
        height <= 768.0,
        "the window is {height} px high on a 768 px screen"
    );
    ensure!(
        (0.0..=height).contains(&bar_bottom),
        "the status bar ends at {bar_bottom} px, outside the {height} px window"
    );
    println!("  on a 1366x768 screen the window is {height} px high, the status bar in view");
    s.close().await?;
    drop(driver);
    Ok(())
}
