#!/usr/bin/env bash
# install-package.sh TARBALL LOCKFILE DEST — unpack the package into DEST and install its production
# dependencies exactly as locked (npm ci --omit=dev; no install scripts). What the image runs.
set -euo pipefail
tarball=${1:?usage: install-package.sh TARBALL LOCKFILE DEST}
lock=${2:?usage: install-package.sh TARBALL LOCKFILE DEST}
dest=${3:?usage: install-package.sh TARBALL LOCKFILE DEST}
mkdir -p "$dest"
tar -xzf "$tarball" -C "$dest" --strip-components=1
cp "$lock" "$dest/package-lock.json"
(cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
