#!/usr/bin/env bash
# Checks the Kubernetes manifests without a cluster (none can run here): each resource against the
# Kubernetes API's own schemas, strictly (an unknown or misspelt field fails), with the offline schemas
# of the `kubernetes-validate` package from PyPI; then what a schema cannot see (check_manifests.py):
# selectors that select their pods, Secrets and the ConfigMap referred to consistently, every MLA_*
# variable one the broker reads, probes on the broker's real health routes.
set -euo pipefail
cd "$(dirname "$0")/../kubernetes"

tools="${MLA_TOOLS_DIR:-/var/tmp/mla-tools}/kubernetes-validate"
if [ ! -x "$tools/bin/kubernetes-validate" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
fi

resources=$(grep -E '^  - [a-z-]+\.yaml$' kustomization.yaml | sed 's/^  - //')
"$tools/bin/kubernetes-validate" --strict --quiet --kubernetes-version 1.31.0 $resources
"$tools/bin/python" ../test/check_manifests.py kustomization.yaml ../mla-broker.example.toml
echo "kubernetes manifests: valid ($(echo $resources | wc -w) resources)"
