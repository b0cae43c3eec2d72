#!/usr/bin/env bash
# Set up and run Vaidya on a fresh Debian/Ubuntu machine: installs PostgreSQL if missing,
# builds the server, and runs `vaidya-server dev`, which starts a private PostgreSQL cluster
# under a local data directory, migrates, seeds a demo clinic group (printing the demo
# sign-ins) and serves the API on http://127.0.0.1:8080. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
fi

cargo build --release -p vaidya-server
exec ./target/release/vaidya-server dev "$@"
