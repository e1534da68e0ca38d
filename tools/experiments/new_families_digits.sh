#!/usr/bin/env bash
# BP vs MAN on the embedded digits for the classification families split
# beyond ResNet: a tiny ViT, MobileNetV2 (width 0.5), a small ConvNeXt and a
# small Swin, 20 epochs each, seeds 0 and 1, trained and validated by
# tools/train.py (through train_and_compare.py); each run's last
# checkpoint, stripped of its aux nets, is then evaluated by tools/test.py
# with the plain BP config. Writes one JSON per family and seed.
#   bash tools/experiments/new_families_digits.sh [--seeds "0 1"]
#        [--only "vit-t mobilenet-v2-w05 convnext-d2w32 swin-d2w32"]
#        [--work-dir DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
cd "$ROOT"
SEEDS="0 1"
ONLY="vit-t mobilenet-v2-w05 convnext-d2w32 swin-d2w32"
WORK="work_dirs/new_families_digits/$(date +%Y%m%d_%H%M%S)"
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) SEEDS="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --work-dir) WORK="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
"$PY" tools/dataset_converters/prepare_digits.py --out data/digits
export OMP_NUM_THREADS=1
for family in $ONLY; do
    for seed in $SEEDS; do
        "$PY" tools/analysis_tools/train_and_compare.py \
            "configs/classification/${family}_digits_bp.py" \
            "configs/classification/${family}_digits_man.py" \
            --test-config "configs/classification/${family}_digits_bp.py" \
            --work-dir "$WORK/${family}_seed$seed" --metric accuracy/top1 \
            --jobs 2 --cfg-options "randomness.seed=$seed" \
            --out "$WORK/${family}_seed$seed.json"
    done
done
echo "results: $WORK"
