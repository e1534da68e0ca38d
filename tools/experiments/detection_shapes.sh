#!/usr/bin/env bash
# Detection experiment on the embedded SYNTHETIC shapes set (CPU, about 40 min
# on 2 cores): a small RetinaNet-R18 trained for the same fixed budget (1000
# iterations of batch 8) by BP, MAN (SLM + feature bank, shared head), MAN
# without SLM and bank (paper Table 4, Adapt off) and DGL (Table 3), two runs
# at a time. Prints COCO bbox mAP, peak activation memory and time per
# iteration side by side.
#   bash tools/experiments/detection_shapes.sh [--jobs 1] [--cfg-options ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
cd "$ROOT"
"$PY" tools/dataset_converters/make_shapes_coco.py --out data/shapes_coco
WORK="work_dirs/detection_shapes/$(date +%Y%m%d_%H%M%S)"
"$PY" tools/analysis_tools/train_and_compare.py \
    configs/detection/shapes/retinanet_r18_fpn_shapes_bp.py \
    configs/detection/shapes/retinanet_r18_fpn_shapes_man.py \
    configs/detection/shapes/retinanet_r18_fpn_shapes_man_noadapt.py \
    configs/detection/shapes/retinanet_r18_fpn_shapes_dgl.py \
    --work-dir "$WORK" --metric coco/bbox_mAP --out "$WORK/summary.json" \
    --jobs 2 "$@"
