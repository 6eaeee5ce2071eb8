#!/usr/bin/env bash
# Installs what the tests need and a fresh machine may lack. Idempotent and quiet when
# everything is there already.
#
# Python: the SDK end-to-end tests (tests/tests/llm_sdk.rs) run the official openai and
# anthropic SDKs from a virtualenv at ${CARGO_TARGET_DIR:-target}/pyenv (a relative
# CARGO_TARGET_DIR counts from the repository root, as cargo does when run there), with
# the versions pinned in tests/py/requirements.txt. The venv is rebuilt when that file
# changes (a hash of it is kept in the venv) or the venv no longer runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's python3 is the base: its path does not move with a user's PATH or pyenv.
PYTHON=/usr/bin/python3

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# prlimit: the descriptor-shortage test (tests/tests/ops.rs) lowers a running gateway's limit
command -v prlimit >/dev/null 2>&1 || need_apt+=(util-linux)
command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
# Cluster-mode rate limits (core/tests/redis_cell.rs, tests/tests/cluster_limits.rs):
# each test starts its own redis-server on a free loopback port.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# venv and ensurepip come with python3-venv on Debian (which pulls in python3).
if [ ! -x "$PYTHON" ] || ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  # redis-server's package would start the system's Redis service; the tests start
  # their own. A policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d
  # and deb-systemd-invoke from starting any service during this install.
  policy=/usr/sbin/policy-rc.d
  if [[ " ${need_apt[*]} " == *" redis-server "* ]] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^clippy'; then rustup component add clippy; fi
if ! rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then rustup component add rustfmt; fi

target="${CARGO_TARGET_DIR:-target}"
venv="$target/pyenv"
requirements=tests/py/requirements.txt
want="$(sha256sum "$requirements" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
stamp="$venv/.requirements.sha256"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
  && "$venv/bin/python" -c '' >/dev/null 2>&1; then
  exit 0
fi
echo "== Python test packages into $venv ($requirements)"
rm -rf "$venv"
mkdir -p "$target"
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --require-virtualenv -r "$requirements"
echo "$want" >"$stamp"
