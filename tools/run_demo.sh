#!/usr/bin/env bash
# The main job on the embedded default data, from a fresh machine:
# set up (or reuse) the environment, write the digits data set, train
# ResNet-32 end to end (BP) and with MAN (K=16), and print a table of true
# peak memory, saved activations, time per iteration and accuracy.
#   bash tools/run_demo.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
cd "$ROOT"
"$PY" tools/dataset_converters/prepare_digits.py --out data/digits
# A new folder per run: an earlier demo's checkpoints are never overwritten.
WORK="work_dirs/demo/$(date +%Y%m%d_%H%M%S)"
"$PY" tools/analysis_tools/train_and_compare.py \
    configs/classification/resnet32_digits_bp.py \
    configs/classification/resnet32_digits_man_k16.py \
    --work-dir "$WORK" --metric accuracy/top1 --out "$WORK/summary.json"
