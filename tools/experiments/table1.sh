#!/usr/bin/env bash
# The paper's Table 1 on one data set: ResNet-32 trained by BP, MAN (K=16)
# and the four local baselines (DGL, InfoPro, AugLocal, PredSim) for the same
# budget and seeds; prints accuracy (mean ± std over seeds), true peak and
# saved-activation memory, time per iteration, inference throughput and aux
# parameters side by side, and writes JSON + Markdown.
#   bash tools/experiments/table1.sh DATASET [--seeds N] [--budget EPOCHS]
#        [--jobs N] [--out-dir DIR]
# DATASET: digits (embedded, written here; about 45 CPU-minutes for 3 seeds),
# cifar10, svhn, stl10 (read from data/, see the README's data section).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
cd "$ROOT"
DATASET="${1:?usage: table1.sh DATASET [--seeds N] [--budget EPOCHS] [--jobs N]}"
shift
if [ "$DATASET" = digits ]; then
    "$PY" tools/dataset_converters/prepare_digits.py --out data/digits
fi
export OMP_NUM_THREADS=1
"$PY" tools/analysis_tools/table1.py "$DATASET" "$@"
