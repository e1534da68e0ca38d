#!/usr/bin/env bash
# BP vs MAN on the embedded digits for the families split beyond ResNet:
# a tiny ViT and MobileNetV2 (width 0.5), 20 epochs each, seeds 0 and 1,
# trained and validated by tools/train.py (through train_and_compare.py);
# each run's last checkpoint, stripped, is then evaluated by tools/test.py
# with the plain BP config.
#   bash tools/experiments/new_families_digits.sh [WORK_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
cd "$ROOT"
WORK="${1:-work_dirs/new_families_digits/$(date +%Y%m%d_%H%M%S)}"
"$PY" tools/dataset_converters/prepare_digits.py --out data/digits
export OMP_NUM_THREADS=1
for family in vit-t mobilenet-v2-w05; do
    for seed in 0 1; do
        "$PY" tools/analysis_tools/train_and_compare.py \
            "configs/classification/${family}_digits_bp.py" \
            "configs/classification/${family}_digits_man.py" \
            --test-config "configs/classification/${family}_digits_bp.py" \
            --work-dir "$WORK/${family}_seed$seed" --metric accuracy/top1 \
            --jobs 2 --cfg-options "randomness.seed=$seed" \
            --out "$WORK/${family}_seed$seed.json"
    done
done
