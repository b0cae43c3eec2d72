//! Saves the document on screen for printing as a PDF file, made by the webview's own print
//! engine (the same layout the print dialog prints, so the PDF and the printout match):
//! on Linux, WebKitGTK's print operation sent to GTK's "Print to File" printer, with no
//! dialog. Clinics send bills and prescriptions on WhatsApp; a PDF in Downloads is what
//! they attach.
//!
//! On Windows, WebView2's `PrintToPdf` with the same page size and margins (the print
//! engine of Edge, which also renders the print dialog's preview).
//!
//! macOS: WKWebView's `createPDF` makes one unpaginated page of the screen, not the printed
//! pages, so there the command answers `pdf_unavailable` and the UI offers the print dialog,
//! whose "Save as PDF" writes the printed pages.

use std::path::Path;

use serde::Deserialize;
use tauri::{Runtime, WebviewWindow};

/// The printed page: A4 or the 80 mm roll, its length and its margin, in millimetres.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageSize {
    pub width_mm: f64,
    pub height_mm: f64,
    pub margin_mm: f64,
}

impl PageSize {
    /// A size a printer can take: 50–500 mm each way, margins under a quarter of the width.
    pub fn check(self) -> Result<PageSize, String> {
        let side = 50.0..=500.0;
        if !side.contains(&self.width_mm)
            || !side.contains(&self.height_mm)
            || !(0.0..self.width_mm / 4.0).contains(&self.margin_mm)
        {
            return Err(format!("not a page size: {self:?}"));
        }
        Ok(self)
    }
}

/// Why no PDF was written.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("this system's webview cannot write a PDF directly; print to PDF instead")]
    Unavailable,
    #[error("the PDF could not be written: {0}")]
    Failed(String),
}

/// Writes the window's current print layout to `path` as a PDF and waits until it is done.
#[cfg(target_os = "linux")]
pub async fn save<R: Runtime>(
    window: &WebviewWindow<R>,
    path: &Path,
    page: PageSize,
) -> Result<(), PdfError> {
    let uri = format!("file://{}", path.display());
    let (done, finished) = tokio::sync::oneshot::channel::<Result<(), String>>();
    window
        .with_webview(move |webview| linux::print_to_file(webview.inner(), &uri, page, done))
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    wait(finished).await
}

/// Writes the window's current print layout to `path` as a PDF and waits until it is done.
#[cfg(windows)]
pub async fn save<R: Runtime>(
    window: &WebviewWindow<R>,
    path: &Path,
    page: PageSize,
) -> Result<(), PdfError> {
    let target = path.to_path_buf();
    let (done, finished) = tokio::sync::oneshot::channel::<Result<(), String>>();
    window
        .with_webview(move |webview| {
            webview2::print_to_pdf(
                webview.controller(),
                webview.environment(),
                &target,
                page,
                done,
            )
        })
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    wait(finished).await
}

/// The print engine's answer, within a minute.
#[cfg(any(target_os = "linux", windows))]
async fn wait(
    finished: tokio::sync::oneshot::Receiver<Result<(), String>>,
) -> Result<(), PdfError> {
    match tokio::time::timeout(std::time::Duration::from_secs(60), finished).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(message))) => Err(PdfError::Failed(message)),
        Ok(Err(_)) => Err(PdfError::Failed(
            "the print operation ended without an answer".into(),
        )),
        Err(_) => Err(PdfError::Failed(
            "the print operation took over a minute".into(),
        )),
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
pub async fn save<R: Runtime>(
    _window: &WebviewWindow<R>,
    _path: &Path,
    _page: PageSize,
) -> Result<(), PdfError> {
    Err(PdfError::Unavailable)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::RefCell;

    use gtk::{PageSetup, PaperSize, PrintSettings, Unit};
    use webkit2gtk::{PrintOperation, PrintOperationExt as _};

    use super::PageSize;

    thread_local! {
        /// Print operations under way: kept alive until they finish (GTK's main thread).
        static RUNNING: RefCell<Vec<PrintOperation>> = const { RefCell::new(Vec::new()) };
    }

    fn forget(op: &PrintOperation) {
        RUNNING.with(|r| r.borrow_mut().retain(|o| o != op));
    }

    /// On GTK's main thread: print the page to `uri` with GTK's file printer.
    pub fn print_to_file(
        webview: webkit2gtk::WebView,
        uri: &str,
        page: PageSize,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    ) {
        let settings = PrintSettings::new();
        settings.set_printer("Print to File");
        settings.set("output-file-format", Some("pdf"));
        settings.set("output-uri", Some(uri));
        let setup = PageSetup::new();
        setup.set_paper_size(&PaperSize::new_custom(
            "vaidya",
            "Vaidya",
            page.width_mm,
            page.height_mm,
            Unit::Mm,
        ));
        for set in [
            PageSetup::set_top_margin,
            PageSetup::set_bottom_margin,
            PageSetup::set_left_margin,
            PageSetup::set_right_margin,
        ] {
            set(&setup, page.margin_mm, Unit::Mm);
        }
        let op = PrintOperation::new(&webview);
        op.set_print_settings(&settings);
        op.set_page_setup(&setup);
        // Either signal answers once; `finished` follows `failed`, so the sender is taken.
        let done = std::rc::Rc::new(RefCell::new(Some(done)));
        let on_fail = done.clone();
        op.connect_failed(move |_, err| {
            if let Some(tx) = on_fail.borrow_mut().take() {
                let _ = tx.send(Err(err.to_string()));
            }
        });
        op.connect_finished(move |op| {
            if let Some(tx) = done.borrow_mut().take() {
                let _ = tx.send(Ok(()));
            }
            forget(op);
        });
        RUNNING.with(|r| r.borrow_mut().push(op.clone()));
        op.print();
    }
}

#[cfg(windows)]
mod webview2 {
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use webview2_com::Microsoft::Web::WebView2::Win32::{
        ICoreWebView2Controller, ICoreWebView2Environment, ICoreWebView2Environment6,
        ICoreWebView2_7,
    };
    use webview2_com::PrintToPdfCompletedHandler;
    use windows_core::{Interface as _, HSTRING};

    use super::PageSize;

    const MM_PER_INCH: f64 = 25.4;

    type Done = Arc<Mutex<Option<tokio::sync::oneshot::Sender<Result<(), String>>>>>;

    fn answer(done: &Done, outcome: Result<(), String>) {
        if let Some(tx) = done.lock().ok().and_then(|mut d| d.take()) {
            let _ = tx.send(outcome);
        }
    }

    /// On the webview's thread: print the page to `path` with WebView2's PDF printer.
    pub fn print_to_pdf(
        controller: ICoreWebView2Controller,
        environment: ICoreWebView2Environment,
        path: &Path,
        page: PageSize,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    ) {
        let done: Done = Arc::new(Mutex::new(Some(done)));
        let on_complete = done.clone();
        let started = (|| -> windows_core::Result<()> {
            // SAFETY: COM calls on the webview's own thread (`with_webview`), on interfaces
            // WebView2 handed out for this window; the handler keeps what it needs.
            unsafe {
                let webview = controller.CoreWebView2()?.cast::<ICoreWebView2_7>()?;
                let settings = environment
                    .cast::<ICoreWebView2Environment6>()?
                    .CreatePrintSettings()?;
                settings.SetPageWidth(page.width_mm / MM_PER_INCH)?;
                settings.SetPageHeight(page.height_mm / MM_PER_INCH)?;
                let margin = page.margin_mm / MM_PER_INCH;
                settings.SetMarginTop(margin)?;
                settings.SetMarginBottom(margin)?;
                settings.SetMarginLeft(margin)?;
                settings.SetMarginRight(margin)?;
                settings.SetShouldPrintBackgrounds(true)?;
                settings.SetShouldPrintHeaderAndFooter(false)?;
                let handler = PrintToPdfCompletedHandler::create(Box::new(
                    move |result: windows_core::Result<()>, written: bool| {
                        let outcome = match result {
                            Ok(()) if written => Ok(()),
                            Ok(()) => Err("WebView2 did not write the PDF".to_owned()),
                            Err(e) => Err(e.to_string()),
                        };
                        answer(&on_complete, outcome);
                        Ok(())
                    },
                ));
                let target = HSTRING::from(path.as_os_str());
                webview.PrintToPdf(&target, &settings, &handler)?;
            }
            Ok(())
        })();
        if let Err(e) = started {
            answer(&done, Err(e.to_string()));
        }
    }
}
