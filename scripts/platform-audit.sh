#!/usr/bin/env bash
# What each desktop platform links, read from Linux with `cargo tree --target`: Windows and
# macOS can't be built here, but their dependency graphs can be checked. Fails when a
# platform loses its native keyring, certificate store or webview, or picks up another
# platform's (libdbus on Windows, say).
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
crates() {
  cargo tree --locked -q -p vaidya-desktop -e normal --target "$1" --prefix none --format '{p}' \
    | awk '{print $1}' | sort -u
}
check() { # platform target "needed crates" "refused crates"
  local list
  list=$(crates "$2")
  for c in $3; do grep -qx "$c" <<<"$list" || { echo "platform audit: $1 lacks $c"; failed=1; }; done
  for c in $4; do ! grep -qx "$c" <<<"$list" || { echo "platform audit: $1 must not link $c"; failed=1; }; done
}

# Windows: Credential Manager (keyring's windows-native), the Windows certificate store
# (schannel via rustls-native-certs), WebView2; nothing of D-Bus or WebKitGTK.
check windows x86_64-pc-windows-msvc \
  "keyring windows-sys rustls-native-certs schannel webview2-com" \
  "dbus dbus-secret-service libdbus-sys zbus webkit2gtk security-framework"
# macOS (both architectures of the universal app): Keychain and the system trust settings
# through Security.framework; nothing of D-Bus, WebKitGTK or Windows.
for target in aarch64-apple-darwin x86_64-apple-darwin; do
  check "macOS ($target)" "$target" \
    "keyring security-framework rustls-native-certs" \
    "dbus dbus-secret-service libdbus-sys zbus webkit2gtk schannel webview2-com"
done
# Linux: Secret Service over libdbus (vendored), OpenSSL's certificate paths, WebKitGTK.
check linux x86_64-unknown-linux-gnu \
  "keyring dbus-secret-service rustls-native-certs openssl-probe webkit2gtk" \
  "schannel webview2-com security-framework"

if [ "$failed" -ne 0 ]; then exit 1; fi
echo "platform audit: windows, macOS (arm64, x86_64) and linux link their own keyring, certificate store and webview"
