#!/usr/bin/env bash
# Set up and run Vaidya on a fresh Debian/Ubuntu machine.
#
# Installs what is missing (PostgreSQL; for the desktop app WebKitGTK and Node packages),
# builds, and runs `vaidya-server dev`: a private PostgreSQL cluster under a local data
# directory, migrated, seeded with a demo clinic group (the demo sign-ins are printed), and
# the API on http://127.0.0.1:8080. When a display is available it then builds and opens the
# desktop app, signed in (through the `vaidya` command line, which keeps the session in the
# OS keyring like the app does) as the demo doctor of the Pune branch; set VAIDYA_DEMO_EMAIL
# and VAIDYA_DEMO_PASSWORD to use another printed demo account. If someone is already signed
# in on this computer, that session is kept. Closing the app (or Ctrl-C) stops everything.
# `--server-only` skips the desktop app.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

desktop=1
[ "${1:-}" = "--server-only" ] && { desktop=0; shift; }
[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && desktop=0

missing=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ "$desktop" -eq 1 ]; then
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  for pkg in libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev pkg-config gnome-keyring; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x target/release/vaidya-server ]; then
  echo "Building Vaidya for the first time: about 10-15 minutes on a 2-core machine (later runs"
  echo "rebuild only what changed, in seconds). Progress follows."
fi
echo "==> building the server"
cargo build --release -p vaidya-server
if [ "$desktop" -eq 0 ]; then
  exec ./target/release/vaidya-server dev "$@"
fi

# The UI's packages and build only when something they depend on changed: a rebuilt
# ui/dist makes the desktop crate compile again (minutes).
newer_than() { [ ! -e "$1" ] || [ -n "$(find "${@:2}" -newer "$1" -print -quit 2>/dev/null)" ]; }
if newer_than ui/node_modules/.package-lock.json ui/package-lock.json ui/package.json; then
  echo "==> installing the UI's npm packages"
  (cd ui && npm ci --no-audit --no-fund)
fi
if newer_than ui/dist/index.html ui/src ui/index.html ui/package-lock.json ui/vite.config.ts ui/tsconfig.json; then
  echo "==> building the UI"
  (cd ui && npm run build)
fi
echo "==> building the desktop app and the vaidya command line"
cargo build --release -p vaidya-desktop --features custom-protocol
cargo build --release -p vaidya-client --bin vaidya

echo "==> starting the server (private PostgreSQL, demo data) on http://127.0.0.1:8080"
./target/release/vaidya-server dev "$@" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT
for _ in $(seq 1 120); do
  curl -sf http://127.0.0.1:8080/health >/dev/null 2>&1 && break
  sleep 0.5
done
if ! ./target/release/vaidya status >/dev/null 2>&1; then
  email="${VAIDYA_DEMO_EMAIL:-doctor@demo.vaidya.in}"
  VAIDYA_PASSWORD="${VAIDYA_DEMO_PASSWORD:-demo-doctor-pass}" \
    ./target/release/vaidya --server http://127.0.0.1:8080 login --email "$email" \
    || echo "could not sign in $email automatically (is the OS keyring unlocked?); sign in in the app"
fi
./target/release/vaidya-desktop
