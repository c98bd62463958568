#!/usr/bin/env bash
# Checks a real /metrics page with Prometheus's own linter: the end-to-end metrics test scrapes a
# broker it drove over gRPC and REST and writes the page it read (MLA_METRICS_DUMP), then
# `promtool check metrics` reads it; any complaint (a malformed line, a name against the conventions,
# a missing HELP) fails. promtool comes from Debian's `prometheus` package, unpacked under the tools
# directory rather than installed (no service, no root needed), and kept there for the next run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/mla-target}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

tools="${MLA_TOOLS_DIR:-/var/tmp/mla-tools}/prometheus"
promtool="$tools/usr/bin/promtool"
if [ ! -x "$promtool" ]; then
  (cd "$scratch" && apt-get download prometheus >/dev/null)
  mkdir -p "$tools"
  dpkg -x "$scratch"/prometheus_*.deb "$tools"
fi

page="$scratch/metrics.txt"
MLA_METRICS_DUMP="$page" cargo test --locked --quiet -p mla-tests --test metrics -- \
  --exact the_page_counts_both_doors_and_reads_the_register::sqlite >/dev/null
[ -s "$page" ] || { echo "promtool: the metrics test wrote no page" >&2; exit 1; }

# promtool prints its complaints and exits non-zero on any; it says nothing on a clean page.
complaints=$("$promtool" check metrics <"$page" 2>&1) || { echo "$complaints" >&2; exit 1; }
if [ -n "$complaints" ]; then
  echo "$complaints" >&2
  exit 1
fi
echo "metrics page: promtool finds nothing to complain about ($(grep -c '^# TYPE' "$page") metrics)"
