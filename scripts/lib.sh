# Shared by scripts/serve and scripts/test: install what is missing, skip what is present at the
# right version. Only crates.io, the npm registry and Debian are reachable from the machines this
# runs on, so nothing here downloads from GitHub, and the tools that would (trunk, wasm-pack) are
# given the binaries installed here instead.
#
# Source it from the repository root: `. scripts/lib.sh`.

set -euo pipefail

ROOT=$(pwd)
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

TRUNK_VERSION=0.21.14      # 0.22 needs a newer rustc than the machine's
WASM_PACK_VERSION=0.15.1
GECKODRIVER_VERSION=0.37.1

# The browser engines the browser and end-to-end layers run in (a phone has one of them).
ENGINES=(chromium firefox webkit)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen version in Cargo.lock; the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

ensure_rust_target() {
  local installed
  installed=$(rustup target list --installed) # whole, before grep: see ensure_cargo_tool
  if ! grep -qx wasm32-unknown-unknown <<<"$installed"; then
    say "adding the rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

# ensure_cargo_tool BINARY VERSION CRATE [cargo install flags...]
ensure_cargo_tool() {
  local binary=$1 version=$2 crate=$3 installed
  shift 3
  # The output is read whole before it is searched: `--version | grep -q` under pipefail fails
  # when grep stops reading at its match while the tool still writes (geckodriver prints its
  # licence after the version; the write fails with a broken pipe), and the tool was then built
  # again for nothing.
  if command -v "$binary" >/dev/null 2>&1 && installed=$("$binary" --version 2>/dev/null) &&
    grep -qF " $version" <<<"$installed"; then
    return
  fi
  say "installing $crate $version (cargo install; takes minutes the first time)"
  cargo install "$crate" --version "$version" --force "$@"
}

ensure_build_tools() {
  ensure_rust_target
  ensure_cargo_tool trunk "$TRUNK_VERSION" trunk --locked
  # Without --locked: with it, the registry lacks one crate pinned by wasm-bindgen-cli's lock file.
  ensure_cargo_tool wasm-bindgen "$(wasm_bindgen_version)" wasm-bindgen-cli
  ensure_npm_packages
  command -v wasm-opt >/dev/null || die "wasm-opt missing after npm ci (package binaryen)"
}

ensure_test_tools() {
  ensure_build_tools
  ensure_cargo_tool wasm-pack "$WASM_PACK_VERSION" wasm-pack --locked
  # Chromium (Android), Firefox ESR (Gecko) and WebKitGTK's MiniBrowser (WebKit, as on every
  # iPhone), each with its WebDriver server; WebKitGTK needs an X display, so Xvfb too.
  # PostgreSQL for the server's tests on it (a throwaway cluster, scripts/postgres-cluster).
  ensure_debian_packages chromium chromium-driver firefox-esr webkit2gtk-driver xvfb postgresql
  ensure_cargo_tool geckodriver "$GECKODRIVER_VERSION" geckodriver --locked
}

# start_display: exports DISPLAY for WebKitGTK, starting an Xvfb of our own unless one is set.
# Sets XVFB_PID (empty if DISPLAY was already there); stop it with stop_display.
XVFB_PID=""
start_display() {
  [ -n "${DISPLAY:-}" ] && return
  local fifo
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$fifo" 2>/dev/null &
  XVFB_PID=$!
  local number
  read -r -t 20 number <"$fifo" || die "Xvfb did not start"
  rm -f "$fifo"
  export DISPLAY=":$number"
}

stop_display() {
  if [ -n "$XVFB_PID" ]; then
    kill "$XVFB_PID" 2>/dev/null || true
    wait "$XVFB_PID" 2>/dev/null || true
    XVFB_PID=""
    unset DISPLAY
  fi
}

ensure_debian_packages() {
  local missing=()
  for package in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# npm packages from package-lock.json; reinstalled only when the lock file changed.
ensure_npm_packages() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Release build of the app into dist/.
build_app() {
  say "building the app (trunk build --release)"
  trunk build --release --offline
}

# Tests use the debug build (quick to build, checks overflow); scripts/serve and the benchmarks
# use the release build: under load a debug server is about 40 times slower.
build_server() {
  say "building the mock server and the replay tool (debug, for tests)"
  cargo build -p enroute-mock-server -p enroute-replay
}

build_release_server() {
  say "building the mock server and the replay tool (release)"
  cargo build --release -p enroute-mock-server -p enroute-replay
}

SERVER_BIN="$ROOT/target/debug/enroute-mock-server"
RELEASE_SERVER_BIN="$ROOT/target/release/enroute-mock-server"
RELEASE_REPLAY_BIN="$ROOT/target/release/enroute-replay"
