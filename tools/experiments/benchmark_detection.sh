#!/usr/bin/env bash
# Re-measure the README's detection memory/time tables and frontier (CPU, one
# thread per run; about 25 min for R50, 25 min for R34, 8 min for YOLOv3 and
# 20 min for R50 at batch 8 on this 2-core machine). Every row is one metered
# iteration after one warm-up iteration of one image (which creates the
# optimizer state), with the config's own optimizer at lr 0; memory is the
# true peak (weights, optimizer state, gradients, activations, temporaries).
#   bash tools/experiments/benchmark_detection.sh [OUT_DIR [MODEL ...]]
# MODEL: r50 r34 yolo r50_b8 (default: all four). Run two at once on two
# cores, e.g. `... results r50 &` and `... results r34 yolo r50_b8`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
OUT="${1:-benchmarks/results}"
shift || true
MODELS=("${@:-r50 r34 yolo r50_b8}")
cd "$ROOT"
export OMP_NUM_THREADS=1
BENCH=(tools/analysis_tools/benchmark_local.py --iters 1 --warmup 1
       --warmup-batch-size 1 --input-size 512 512)

declare -A CFG=(
    [r50]=retinanet/retinanet_r50_fpn_160e_coco_bp
    [r34]=retinanet/retinanet_r34_fpn_160e_coco_bp
    [yolo]=yolo/yolov3_r34_160e_coco_bp)

for model in ${MODELS[@]}; do
    if [ "$model" = r50_b8 ]; then
        # The paper's 64 images on 8 GPUs: is default MAN below BP here?
        "$PY" "${BENCH[@]}" configs/detection/${CFG[r50]}.py --batch-size 8 \
            --ks all --aux man \
            --out "$OUT/retinanet_r50_fpn_160e_coco_8x512_cpu.json"
        continue
    fi
    cfg="configs/detection/${CFG[$model]}.py"
    name="$(basename "$cfg" _bp.py)_2x512_cpu"
    # The frontier: BP, BP + with_cp, MAN at K = 2, 4, 8 and one module per
    # block, each module's gradients applied and freed after its backward,
    # without and with checkpointing inside the local steps.
    "$PY" "${BENCH[@]}" "$cfg" --batch-size 2 --ks 2 4 8 all --aux man \
        --step-per-module --local-cp --breakdown --out "$OUT/$name.json"
    # The defaults: MAN stepping once per iteration (the configs clip by a
    # global gradient norm), and DGL.
    "$PY" "${BENCH[@]}" "$cfg" --batch-size 2 --ks 4 all --aux man dgl \
        --no-cp --out "$OUT/${name}_aux.json"
    # The lean SLM switch (inner width 0.5), per module, without and with
    # checkpointing.
    "$PY" "${BENCH[@]}" "$cfg" --batch-size 2 --ks 4 all --aux man_w050 \
        --step-per-module --local-cp --no-cp --out "$OUT/${name}_lean.json"
done
