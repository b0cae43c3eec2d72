#!/usr/bin/env bash
# The desktop benchmark (issue 4): builds Vaidya's app and the plain Tauri hello-world
# baseline (tests/hello-tauri) the same way (release, UI embedded) with their .deb bundles,
# then runs bench-desktop under Xvfb in a private D-Bus session with an unlocked keyring.
# Needs what scripts/test.sh installs. Arguments go to bench-desktop
# (--patients N, --runs N, --words N). Figures: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# BENCH_NO_BUILD=1 reruns the measurement on what the last run built.
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  (cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build)
  # `tauri build` builds the release binary with the UI embedded and packs the .deb.
  (cd ui && npm run tauri:build -- --bundles deb)
  (cd tests/hello-tauri && ../../ui/node_modules/.bin/tauri build --bundles deb)
fi
cargo build --release -p vaidya-tests --bin bench-desktop
# The tauri-driver scripts/test.sh installs, unless one is named or on the PATH.
if [ -z "${TAURI_DRIVER:-}" ] && [ -x target/tools/bin/tauri-driver ]; then
  export TAURI_DRIVER="$PWD/target/tools/bin/tauri-driver"
fi

keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
XDG_DATA_HOME="$keyring_home" xvfb-run -a -s "-screen 0 1600x1000x24" dbus-run-session -- bash -c '
  echo -n "vaidya-bench-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  sleep 1
  exec ./target/release/bench-desktop "$@"
' bench-desktop "$@"
