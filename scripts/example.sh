#!/usr/bin/env bash
# The main job on the example project (examples/iris), end to end on this machine:
#   lab up (Docker engine, registry with the base image, lab Python index) → envseal lock → generate →
#   build dev and deploy → run the training twice with the same seed (identical outputs, two run records) →
#   run it in the deploy image → verify image, record and a clean rebuild → diff the two records →
#   reproduce the first run from its record (byte-identical outputs).
# Usage: npm run example   (as root on Debian 12; the first run sets up the lab, ~3 minutes)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lab: Docker engine, registry 127.0.0.1:5000, lab index 127.0.0.1:5080"
bash .ci/lab-up
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build

envseal() { node "$repo/bin/envseal.js" "$@"; }
cd examples/iris
rm -rf outputs

step "envseal lock: base digest, apt closure and Python closure, pinned"
envseal lock
envseal lock --check
step "envseal generate: envseal.Dockerfile from the lock"
envseal generate
envseal fingerprint

step "envseal build: dev and deploy images with the fingerprint in their labels (reproducible image IDs)"
envseal build --target dev
deploy_tag=$(envseal build --target deploy --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tags[0]))')

step "envseal run: train twice with seed 42 in the dev image (project mounted), then in the deploy image"
envseal run --seed 42 --input params.cfg --output outputs/a -- python train.py outputs/a
envseal run --seed 42 --input params.cfg --output outputs/b -- python train.py outputs/b
cmp outputs/a/metrics.json outputs/b/metrics.json && cmp outputs/a/model.pkl outputs/b/model.pkl \
  && echo "same seed, same environment: byte-identical metrics.json and model.pkl"
envseal run --target deploy --seed 42 --output outputs/deploy -- python train.py outputs/deploy
cat outputs/deploy/metrics.json

records=(.envseal/runs/*.json)
last=${records[-1]}
step "envseal verify: lock fresh, Dockerfile current, image and record match the lock, clean rebuild identical"
envseal verify --image "$deploy_tag" --record "$last"
envseal verify --rebuild --image "$deploy_tag"

step "envseal diff: the first two runs' environments"
envseal diff "${records[-3]}" "${records[-2]}"

step "envseal reproduce: the first run again from its record (same image, input, seed, command), outputs compared"
envseal reproduce "${records[-3]}"
printf '\nrun records: %s\n' "examples/iris/.envseal/runs/"
