# Shared by .ci/run, scripts/test and scripts/fuzz-api: the Rust toolchain
# and the system packages the build needs besides PostgreSQL and Redis
# (scripts/lib/services.sh). Source it; it defines functions only.

# Runs an OS package manager with root rights (itself when root, else sudo).
_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: installing system packages needs root or sudo: $*" >&2
    return 1
  fi
}

# Installs OS packages by name for apt-get, dnf or brew: os_install APT DNF BREW
# (each a space-separated list; an empty one means nothing to install there).
os_install() {
  if command -v apt-get >/dev/null 2>&1; then
    _as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive _as_root apt-get install -y -qq $1 >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    [ -z "$2" ] || _as_root dnf install -y $2
  elif command -v brew >/dev/null 2>&1; then
    [ -z "$3" ] || brew install $3
  else
    echo "error: no known package manager to install: $1" >&2
    return 1
  fi
}

# Makes cargo reachable (rustup puts it in ~/.cargo/bin, which a non-login
# shell may not have on PATH), or says what to install and fails.
rust_ensure_toolchain() {
  local cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$cargo_bin/cargo" ]; then
    export PATH="$cargo_bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 && return 0
  cat >&2 <<'MSG'
error: cargo not found. Building and testing CareService needs a Rust
toolchain, Rust 1.95 or newer (rust-version in Cargo.toml). Install it with
rustup (https://rustup.rs), then open a new shell or source its env file:

  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
  . "$HOME/.cargo/env"
MSG
  return 1
}

# Adds clippy to the toolchain when it is missing, and fails if it cannot:
# CI's lints are never skipped.
clippy_ensure_installed() {
  cargo clippy --version >/dev/null 2>&1 && return 0
  if ! command -v rustup >/dev/null 2>&1; then
    echo "error: clippy is not installed and there is no rustup to add it: install clippy for this toolchain" >&2
    return 1
  fi
  echo "clippy not found: rustup component add clippy" >&2
  rustup component add clippy
  cargo clippy --version >/dev/null 2>&1 || { echo "error: clippy is still not runnable" >&2; return 1; }
}

# A C compiler (ring, behind TLS, compiles C) and curl (the fuzz run polls
# the server with it), from the OS packages when missing.
build_tools_ensure_installed() {
  if ! command -v cc >/dev/null 2>&1; then
    echo "no C compiler (cc) found: installing one from the OS packages" >&2
    os_install "gcc libc6-dev" "gcc" "" || return 1
    command -v cc >/dev/null 2>&1 || { echo "error: install a C compiler (cc) and retry" >&2; return 1; }
  fi
  if ! command -v curl >/dev/null 2>&1; then
    echo "curl not found: installing it from the OS packages" >&2
    os_install "curl ca-certificates" "curl" "curl" || return 1
    command -v curl >/dev/null 2>&1 || { echo "error: install curl and retry" >&2; return 1; }
  fi
}
