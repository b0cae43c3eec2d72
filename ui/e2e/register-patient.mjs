// End-to-end: drives the real desktop binary through tauri-driver (WebDriver) and
// WebKitWebDriver under Xvfb. Signs in to VAIDYA_E2E_SERVER, opens the first clinic,
// registers a patient and saves screenshots to ui/e2e/artifacts/.
//
//   VAIDYA_E2E_SERVER=http://127.0.0.1:8080 VAIDYA_E2E_EMAIL=desk@demo.in \
//   VAIDYA_E2E_PASSWORD=… xvfb-run -a node ui/e2e/register-patient.mjs
//
// Plain WebDriver over HTTP (no client library): tauri-driver listens on :4444.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const artifacts = join(here, "artifacts");
mkdirSync(artifacts, { recursive: true });

const server = process.env.VAIDYA_E2E_SERVER;
const email = process.env.VAIDYA_E2E_EMAIL;
const password = process.env.VAIDYA_E2E_PASSWORD;
if (!server || !email || !password) {
  console.error("set VAIDYA_E2E_SERVER, VAIDYA_E2E_EMAIL and VAIDYA_E2E_PASSWORD");
  process.exit(2);
}
const app = process.env.VAIDYA_E2E_APP ?? join(root, "target", "debug", "vaidya-desktop");
const driverBin = process.env.TAURI_DRIVER ?? "tauri-driver";
const W3C_ELEMENT = "element-6066-11e4-a52e-4653bcf66c2e";

const driver = spawn(driverBin, [], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, VAIDYA_DATA_DIR: mkdtempSync(join(tmpdir(), "vaidya-e2e-")) },
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wd(method, path, body) {
  const res = await fetch(`http://127.0.0.1:4444${path}`, {
    method, headers: { "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
  return json.value;
}

let session;
const find = async (css, timeout = 15000) => {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      const el = await wd("POST", `/session/${session}/element`, { using: "css selector", value: css });
      return el[W3C_ELEMENT];
    } catch (e) {
      if (Date.now() > end) throw e;
      await sleep(250);
    }
  }
};
const type = async (css, text) => wd("POST", `/session/${session}/element/${await find(css)}/value`, { text });
const click = async (css) => wd("POST", `/session/${session}/element/${await find(css)}/click`, {});
const shot = async (name) => {
  const png = await wd("GET", `/session/${session}/screenshot`);
  writeFileSync(join(artifacts, `${name}.png`), Buffer.from(png, "base64"));
  console.log(`screenshot ${name}.png`);
};

let failed = false;
try {
  for (let i = 0; i < 40; i++) {
    try { await wd("GET", "/status"); break; } catch { await sleep(250); }
  }
  const s = await wd("POST", "/session", {
    capabilities: { alwaysMatch: { "tauri:options": { application: app } } },
  });
  session = s.sessionId;

  await find("form.sign-in");
  await shot("01-sign-in");
  await type("#f-server", server);
  await type("#f-email", email);
  await type("#f-password", password);
  await click("form.sign-in button[type=submit]");

  await click("button.clinic");
  await find("[data-testid=clinic-name]");
  await shot("02-front-desk");

  await click("[data-testid=register-patient]");
  const name = `E2E Patient ${Date.now() % 100000}`;
  await type("#f-name", name);
  await type("#f-dob", "07/04/1990");
  await type("#f-phone", "98450 12345");
  await shot("03-register-form");
  await click("[data-testid=patient-form] button[type=submit]");
  const card = await find("[data-testid=patient-card]");
  const text = await wd("GET", `/session/${session}/element/${card}/text`);
  if (!text.includes(name) || !text.includes("+91 98450 12345")) throw new Error(`patient card shows: ${text}`);
  await shot("04-patient-registered");

  // Search as you type finds the new patient in the local cache.
  await type("input[name=patient-search]", name.split(" ").pop());
  await find("ul.results li");
  await shot("05-search");
  console.log("e2e: 1 passed, 0 failed");
} catch (err) {
  failed = true;
  console.error(err);
  try { await shot("99-failure"); } catch {}
  console.log("e2e: 0 passed, 1 failed");
} finally {
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  driver.kill();
}
process.exit(failed ? 1 : 0);
