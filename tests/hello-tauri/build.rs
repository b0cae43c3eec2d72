//! Build script: Tauri's codegen for the hello-world baseline.

fn main() {
    tauri_build::build()
}
