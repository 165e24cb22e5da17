#!/bin/bash
# Rerun every figure of docs/results.md's "Many clients" section (issue 12):
# each mesh of configs/experiments/clients.yaml on its own, each under the
# machine's heavy-run lock (one hold per mesh, well under 15 minutes), then the
# section and its figure into docs/results.md and docs/results/, the raw
# results into docs/results/clients/.
#
#   scripts/clients-figures.sh [OUT_DIR] [MESH...]     (default: /tmp/l3roam-clients, every mesh)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/l3roam-clients}
shift || true
meshes=("$@")
[ ${#meshes[@]} -gt 0 ] || meshes=(line5 line5-check300 grid50 ulm50)
mkdir -p "$out"
for m in "${meshes[@]}"; do
    flock /tmp/l3roam-heavy.lock python3 -m l3roam experiment configs/experiments/clients.yaml \
        --mesh "$m" --out "$out" --no-report
done
python3 -m l3roam report "$out" --md docs/results.md --figures docs/results
mkdir -p docs/results/clients
cp "$out"/clientscale-*.json docs/results/clients/
