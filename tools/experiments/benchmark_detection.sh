#!/usr/bin/env bash
# Re-measure the README's detection memory/time tables (CPU, one thread, about
# 30 min on this 2-core machine): for RetinaNet-R50, RetinaNet-R34 and
# YOLOv3-R34 at 2x3x512x512, BP, BP + with_cp and MAN at K = 2, 4, 8 and one
# module per block, then DGL at one module per block, each with the
# per-module breakdown of its finest split. One timed iteration per row.
#   bash tools/experiments/benchmark_detection.sh [OUT_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
OUT="${1:-benchmarks/results}"
cd "$ROOT"
export OMP_NUM_THREADS=1
for cfg in retinanet/retinanet_r50_fpn_160e_coco_bp \
           retinanet/retinanet_r34_fpn_160e_coco_bp \
           yolo/yolov3_r34_160e_coco_bp; do
    name="$(basename "$cfg" _bp)_2x512_cpu"
    common=(configs/detection/$cfg.py --batch-size 2 --input-size 512 512
            --iters 1 --warmup 0 --breakdown)
    "$PY" tools/analysis_tools/benchmark_local.py "${common[@]}" \
        --ks 2 4 8 all --aux man --out "$OUT/$name.json"
    "$PY" tools/analysis_tools/benchmark_local.py "${common[@]}" \
        --ks all --aux dgl --no-cp --out "$OUT/${name}_aux.json"
done
