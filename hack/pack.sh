#!/usr/bin/env bash
# pack.sh OUTDIR — compile src/ (tsconfig.build.json) in a clean staging directory and `npm pack` it
# into OUTDIR: the tarball of what ships, with production code only. The Containerfile and
# test/integration/package.test.ts both build the package this way.
set -euo pipefail
out=${1:?usage: pack.sh OUTDIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$root/package.json" "$root/README.md" "$stage/"
# Type-check and emit with the repository's compiler (devDependencies), into the staging tree.
(cd "$root" && npx tsc -p tsconfig.build.json --outDir "$stage/dist")
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
ls "$out"/*.tgz
