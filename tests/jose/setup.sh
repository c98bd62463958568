#!/bin/sh
# Prepares an independent JOSE implementation (Python's jwcrypto) for the signature tests: a virtual
# environment under $1, made once and reused. Prints the environment's python on success; exits 3 when
# python3 or its venv module is missing, so that the test can skip loudly.
set -eu
venv="$1"
command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed" >&2; exit 3; }
if ! "$venv/bin/python" -c 'import jwcrypto' >/dev/null 2>&1; then
    python3 -m venv "$venv" >&2 || { echo "python3 cannot make a virtual environment (python3-venv)" >&2; exit 3; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'jwcrypto>=1.5,<2' >&2
fi
echo "$venv/bin/python"
