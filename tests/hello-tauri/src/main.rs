//! The baseline for `bench-desktop`: the smallest Tauri 2 app with one window and one
//! command, built with the same Tauri version, features and profile as Vaidya's shell.
//! Its page calls `ready` once rendered; the line it prints is what the benchmark waits for.

use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

#[tauri::command]
fn ready() {
    let ms = STARTED.get().map(|t| t.elapsed().as_millis());
    println!("first screen interactive ms={ms:?}");
}

fn main() {
    STARTED.get_or_init(Instant::now);
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
        .expect("error while running the hello-world app");
}
