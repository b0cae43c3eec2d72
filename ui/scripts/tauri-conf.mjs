// The Tauri CLI looks for tauri.conf.json beside the app crate's Cargo.toml and resolves its
// paths from there. Vaidya keeps the source of truth at the repo root (paths relative to the
// root), so bundling writes a generated copy into src-tauri/ with the paths rebased.
// Cargo builds (`cargo build -p vaidya-desktop`) read the root file directly (build.rs,
// generate_context!), so this copy only matters to `tauri build` / `tauri dev`.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const conf = JSON.parse(readFileSync(join(root, "tauri.conf.json"), "utf8"));
const rebase = (p) => (p.startsWith("src-tauri/") ? p.slice("src-tauri/".length) : `../${p}`);
conf.build.frontendDist = rebase(conf.build.frontendDist);
conf.bundle.icon = conf.bundle.icon.map(rebase);
writeFileSync(join(root, "src-tauri", "tauri.conf.json"), `${JSON.stringify(conf, null, 2)}\n`);
console.log("wrote src-tauri/tauri.conf.json");
