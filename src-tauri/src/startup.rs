//! What the desktop process sets up around the app: a log file support can read, panics in
//! it, one running app per data directory, a window that fits the screen, and background
//! work that waits for the first screen.
//!
//! The Windows release build has no console (`windows_subsystem = "windows"`), so stderr goes
//! nowhere: without a file, a startup failure or a panic closes the window without a trace.
//! Logs carry codes, ids and counts, never patient data (the client core logs nothing else).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use tauri::{LogicalSize, PhysicalSize, Runtime, WebviewWindow};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};
use vaidya_client::DataDir;

/// Whether the UI has drawn its first screen (`ui_ready`).
static FIRST_SCREEN: std::sync::LazyLock<tokio::sync::watch::Sender<bool>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(false).0);

/// The UI has drawn its first screen: work waiting in [`after_first_screen`] goes on.
pub fn first_screen_drawn() {
    FIRST_SCREEN.send_replace(true);
}

/// Waits until the UI has drawn its first screen, or `at_most`. Background work that can
/// start a moment later (a clinic's sync connection reads and checks every page of its
/// file: about 170 ms of a core at 100,000 patients) waits here, so that on a 2-core clinic
/// PC it does not share the CPU with the first screen being drawn.
pub async fn after_first_screen(at_most: std::time::Duration) {
    let mut drawn = FIRST_SCREEN.subscribe();
    let _ = tokio::time::timeout(at_most, drawn.wait_for(|drawn| *drawn)).await;
}

/// Days of logs kept: a clinic calls support days after "it was slow on Monday".
pub const LOG_DAYS_KEPT: usize = 14;

/// The log directory inside the app's data directory.
pub fn log_dir(data_dir: &DataDir) -> PathBuf {
    data_dir.root().join("logs")
}

/// Logs to stderr and, when `data_dir` is known and writable, to a daily file in
/// [`log_dir`] (`vaidya.YYYY-MM-DD.log`, the last [`LOG_DAYS_KEPT`] kept). `RUST_LOG`
/// overrides the level. Returns the directory written to, if any.
pub fn init_logging(data_dir: Option<&DataDir>) -> Option<PathBuf> {
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "vaidya_desktop=info,vaidya_client=info".into())
    };
    let file = data_dir.and_then(|d| daily_log(&log_dir(d)).ok());
    let dir = file.as_ref().map(|(_, dir)| dir.clone());
    // Writes go straight to the file (no background writer): the lines just before a crash
    // are the ones support needs.
    let file_layer = file.map(|(appender, _)| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(appender)
            .with_filter(filter())
    });
    let registry = tracing_subscriber::registry()
        .with(fmt::layer().with_writer(io::stderr).with_filter(filter()))
        .with(file_layer);
    // A second initialisation (tests) keeps the first.
    let _ = registry.try_init();
    dir
}

fn daily_log(dir: &Path) -> Result<(RollingFileAppender, PathBuf), io::Error> {
    std::fs::create_dir_all(dir)?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("vaidya")
        .filename_suffix("log")
        .max_log_files(LOG_DAYS_KEPT)
        .build(dir)
        .map_err(io::Error::other)?;
    Ok((appender, dir.to_owned()))
}

/// Panics reach the log (with where: file and line, and a backtrace, which names functions
/// only in builds with symbols; release builds strip them) before the default hook runs.
pub fn log_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(
            target: "vaidya_desktop::panic",
            "{info}\n{}",
            std::backtrace::Backtrace::force_capture()
        );
        default_hook(info);
    }));
}

/// Held while this process is the app of a data directory.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("Vaidya is already open on this computer (data directory {0})")]
    AlreadyRunning(PathBuf),
    #[error("cannot lock the data directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Makes this process the only app on `data_dir`: two apps on one data directory would run
/// two sync engines over the same partitions and outboxes. The OS releases the lock when the
/// process ends, however it ends, so a crash never leaves it stuck.
pub fn lock_instance(data_dir: &DataDir) -> Result<InstanceLock, InstanceError> {
    let path = data_dir.root().join("vaidya.lock");
    let io_error = |source| InstanceError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir.root()).map_err(io_error)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error)?;
    match file.try_lock() {
        Ok(()) => Ok(InstanceLock { _file: file }),
        Err(TryLockError::WouldBlock) => {
            Err(InstanceError::AlreadyRunning(data_dir.root().to_owned()))
        }
        Err(TryLockError::Error(e)) => Err(io_error(e)),
    }
}

/// Brings a window that does not fit the screen's work area inside it, maximised: on a
/// 1366×768 clinic PC the 1280×820 window would put the status bar under the taskbar.
/// `configured` is the window's size in `tauri.conf.json` (logical pixels): before the
/// window is first shown its own size reads 0×0. Placed and sized first, since without a
/// window manager (kiosk set-ups) maximising alone does nothing.
pub fn fit_to_screen<R: Runtime>(window: &WebviewWindow<R>, configured: LogicalSize<f64>) {
    let monitor = window
        .current_monitor()
        .ok()
        .flatten()
        .or_else(|| window.primary_monitor().ok().flatten());
    let Some(monitor) = monitor else {
        tracing::debug!("no monitor known: the window keeps its configured size");
        return;
    };
    let wanted: PhysicalSize<u32> = configured.to_physical(monitor.scale_factor());
    let area = *monitor.work_area();
    if wanted.width <= area.size.width && wanted.height <= area.size.height {
        return;
    }
    tracing::info!(
        window = ?(wanted.width, wanted.height),
        work_area = ?(area.size.width, area.size.height),
        "the window does not fit the screen: maximised"
    );
    let _ = window.set_position(area.position);
    let _ = window.set_size(area.size);
    let _ = window.maximize();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one test of this binary that sets the global subscriber and panic hook.
    #[test]
    fn logs_and_panics_reach_a_daily_file_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        assert_eq!(init_logging(Some(&data_dir)), Some(log_dir(&data_dir)));
        log_panics();
        tracing::info!(target: "vaidya_desktop", "sync finished: 3 pushed");
        let panicked = std::thread::spawn(|| panic!("startup check failed")).join();
        assert!(panicked.is_err());

        let files: Vec<_> = std::fs::read_dir(log_dir(&data_dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("vaidya.") && name.ends_with(".log"),
            "{name}"
        );
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("sync finished: 3 pushed"), "{text}");
        assert!(text.contains("startup check failed"), "{text}");
        assert!(text.contains("startup.rs"), "where it panicked: {text}");
    }

    #[test]
    fn a_second_app_on_the_same_data_directory_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        let first = lock_instance(&data_dir).unwrap();
        assert!(matches!(
            lock_instance(&data_dir),
            Err(InstanceError::AlreadyRunning(_))
        ));
        // Another PC's directory (e2e runs, portable installs) is independent.
        let other = tempfile::tempdir().unwrap();
        let _other = lock_instance(&DataDir::new(other.path())).unwrap();
        drop(first);
        lock_instance(&data_dir).unwrap();
    }
}
