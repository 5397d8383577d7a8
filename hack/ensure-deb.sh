#!/usr/bin/env bash
# ensure-deb.sh PACKAGE... — install the Debian packages that are missing, with apt-get.
#
# Quick and silent when every package is installed already (one dpkg-query), so Makefile targets
# can call it on every run. Installs as root, or through sudo when not root (non-interactive: sudo
# must not ask for a password); otherwise it fails and says what to install by hand. The package
# lists are refreshed (apt-get update) only when the install fails without them, as on a fresh
# machine whose lists are empty or stale. Concurrent callers wait on dpkg's lock instead of failing.
#
# On a machine with an init system, Debian starts a package's service after installing it (bind9
# starts named on port 53); the tests never use it — they start their own servers on free ports.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: ensure-deb.sh PACKAGE..." >&2
  exit 2
fi

missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deb: apt-get not found (not a Debian-based machine); install these yourself: ${missing[*]}" >&2
  exit 1
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "ensure-deb: need root to install ${missing[*]}: run as root, allow password-less sudo, or run 'sudo apt-get install -y ${missing[*]}' once" >&2
    exit 1
  fi
fi

apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q)
echo "ensure-deb: installing ${missing[*]}" >&2
start=$(date +%s)
if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; then
  echo "ensure-deb: install failed; refreshing the package lists (apt-get update) and trying once more" >&2
  "${apt[@]}" update >&2
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2
fi
echo "ensure-deb: installed ${missing[*]} in $(( $(date +%s) - start ))s" >&2
