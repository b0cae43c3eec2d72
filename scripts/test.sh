#!/usr/bin/env bash
# Set up and run every Vaidya test on a fresh Debian/Ubuntu machine.
# Installs what is missing (PostgreSQL server binaries, a Secret Service keyring daemon,
# D-Bus), then runs formatting and lint checks and the whole test suite inside a private
# D-Bus session with an unlocked gnome-keyring, so keyring tests use the real OS keyring.
# The server tests start their own private PostgreSQL cluster (initdb/pg_ctl, as the
# `postgres` user when run as root) and remove it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v dbus-run-session >/dev/null 2>&1 || missing+=(dbus)
command -v dbus-launch >/dev/null 2>&1 || missing+=(dbus-x11)
command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
dpkg -s libsecret-1-0 >/dev/null 2>&1 || missing+=(libsecret-1-0)
# The desktop shell (Tauri 2) links WebKitGTK and friends; its end-to-end test drives the
# real app in Xvfb through WebKitWebDriver, and screenshots need a font.
command -v xvfb-run >/dev/null 2>&1 || missing+=(xvfb xauth)
command -v WebKitWebDriver >/dev/null 2>&1 || missing+=(webkit2gtk-driver)
for pkg in libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev pkg-config fonts-dejavu-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then missing+=(postgresql); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Web UI: unit tests (GST split, formatting, validation) and the production build that the
# desktop shell embeds.
(cd ui && npm ci --no-audit --no-fund && npm test && npm run build)

# The desktop app as users get it (release, UI embedded) for the end-to-end test, and
# tauri-driver (the WebDriver bridge) built into target/tools so CI caches it with target/.
cargo build --release -p vaidya-desktop --features custom-protocol
export TAURI_DRIVER="$PWD/target/tools/bin/tauri-driver"
[ -x "$TAURI_DRIVER" ] || cargo install tauri-driver --locked --version 2.1.0 --root target/tools

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

# Keyring tests and the desktop end-to-end test must not silently skip here. The keyring daemon keeps its files under a
# private XDG_DATA_HOME, so the tests never touch (or depend on) the user's own keyrings.
export VAIDYA_REQUIRE_KEYRING=1 VAIDYA_REQUIRE_E2E=1
keyring_home=$(mktemp -d)
export VAIDYA_TEST_LOG="$keyring_home/test.log"
trap 'rm -rf "$keyring_home"' EXIT
# Xvfb gives the end-to-end test a screen (the app's window is 1280×820).
XDG_DATA_HOME="$keyring_home" xvfb-run -a -s "-screen 0 1600x1000x24" dbus-run-session -- bash -c '
  set -euo pipefail
  echo -n "vaidya-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  # The daemon creates its default collection asynchronously; give it a moment.
  sleep 1
  # Into a file, followed live: a pipe to tee would wait for every process that inherited
  # it (one stray WebKit helper would hang the run); a file does not.
  cargo test --workspace --all-targets >"$VAIDYA_TEST_LOG" 2>&1 &
  tests=$!
  tail -n +1 -f --pid="$tests" "$VAIDYA_TEST_LOG"
  wait "$tests"
'

# One closing line for the whole run: the sum over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "all test binaries: %d passed, %d failed\n", p, f; if (p == 0) exit 1 }' "$VAIDYA_TEST_LOG"
