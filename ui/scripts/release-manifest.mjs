// Writes the desktop release's `latest.json` for the sync server's releases directory
// (server `routes::desktop`): Tauri's static updater manifest, one entry per installer the
// release workflow signed (each `<installer>.sig` beside its installer), plus the oldest
// version the server still syncs with. Usage:
//   node ui/scripts/release-manifest.mjs <bundles-dir> <download-base-url> [minimum-version] > latest.json
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Updater platform keys of an installer, by its name (a universal macOS app serves both). */
export function platformKeys(file) {
  if (/\.msi$/i.test(file)) return ["windows-x86_64-msi"];
  if (/-setup\.exe$/i.test(file)) return ["windows-x86_64-nsis"];
  if (/\.app\.tar\.gz$/.test(file)) return ["darwin-aarch64-app", "darwin-x86_64-app"];
  if (/\.AppImage$/.test(file)) return ["linux-x86_64-appimage"];
  if (/\.deb$/.test(file)) return ["linux-x86_64-deb"];
  return [];
}

/** The manifest for the signed installers among `files` ({name, signature}). */
export function manifest({ version, files, baseUrl, minimumVersion, notes, pubDate }) {
  const platforms = {};
  for (const { name, signature } of files) {
    for (const key of platformKeys(name)) {
      platforms[key] = { url: `${baseUrl.replace(/\/$/, "")}/${encodeURIComponent(name)}`, signature: signature.trim() };
    }
  }
  if (Object.keys(platforms).length === 0) throw new Error("no signed installer found (is TAURI_SIGNING_PRIVATE_KEY set?)");
  const out = { version, notes: notes ?? null, pub_date: pubDate, platforms };
  if (minimumVersion) out.minimum_version = minimumVersion;
  return out;
}

/** Every `<installer>.sig` under `dir`, with its installer's name. */
function signedInstallers(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...signedInstallers(path));
    else if (entry.endsWith(".sig")) found.push({ name: basename(entry, ".sig"), signature: readFileSync(path, "utf8") });
  }
  return found;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [dir, baseUrl, minimumVersion] = process.argv.slice(2);
  if (!dir || !baseUrl) {
    console.error("usage: release-manifest.mjs <bundles-dir> <download-base-url> [minimum-version]");
    process.exit(2);
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const { version } = JSON.parse(readFileSync(join(root, "tauri.conf.json"), "utf8"));
  const out = manifest({
    version,
    files: signedInstallers(dir),
    baseUrl,
    minimumVersion,
    notes: process.env.RELEASE_NOTES || null,
    pubDate: new Date().toISOString(),
  });
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
