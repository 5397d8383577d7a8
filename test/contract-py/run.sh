#!/usr/bin/env bash
# run.sh — the SDK contract suite: the lab against pyVmomi and netapp-ontap, pinned with hashes in
# requirements.txt. The virtual environment is built once per requirements file and Python version
# and cached in $VMDR_CACHE_DIR (default ~/.cache/vmdr), like the Go tools. VMDR_LAB names the lab
# binary (make test-contract-py passes it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${VMDR_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
  echo "contract-py: needs Python 3.9 or newer as $python" >&2
  exit 2
fi
: "${VMDR_LAB:?VMDR_LAB must name the lab binary (hack/ensure-tool.sh lab)}"
cache=${VMDR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmdr}
key=$( { "$python" -c 'import sys; print(sys.version)'; cat "$here/requirements.txt"; } | sha256sum | cut -c1-16)
venv="$cache/py/contract-$key"
if [[ ! -f "$venv/.complete" ]]; then
  mkdir -p "$cache/py"
  exec 9>"$cache/py/.contract.lock"
  flock 9
  if [[ ! -f "$venv/.complete" ]]; then
    echo "contract-py: creating $venv (pinned SDKs from PyPI, hashes checked)..." >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # Only PyPI and the hashes in requirements.txt decide what is installed.
    env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL "$venv/bin/pip" install --quiet --no-cache-dir \
      --require-hashes --only-binary=:all: -r "$here/requirements.txt"
    touch "$venv/.complete"
    find "$cache/py" -maxdepth 1 -type d -name 'contract-*' ! -name "contract-$key" -exec rm -rf {} +
  fi
fi
cd "$here"
# The suite verifies TLS against the lab's CA itself; these are cleared so nothing else can decide.
exec env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR \
  "$venv/bin/python" -W ignore::ResourceWarning -m unittest -v test_sdk_contract
