#!/usr/bin/env bash
# BP vs MAN, end to end, for the families split beyond ResNet (besides the
# classification digits runs of new_families_digits.sh): RTMDet-tiny,
# YOLOv3-D53, Faster R-CNN and DINO on the embedded SYNTHETIC shapes (128 px)
# and SwinIR, RDN and SRGAN (adversarial; --only srgan) on the embedded
# photographs (x2). Each pair is trained by
# tools/train.py for the same budget and seed; each run's last checkpoint,
# stripped of aux nets, is then evaluated by tools/test.py with the plain BP
# config. Prints metric, true peak and time per iteration side by side and
# writes one JSON per pair and seed.
#   bash tools/experiments/zoo_families_e2e.sh [--iters N] [--seeds "0 1"]
#        [--only "rtmdet_tiny swinir rdn ..."] [--work-dir DIR]
# Detection and SRGAN budget: N iterations of batch 8 (default 300; the
# configs say 1000 and 500) with the cosine schedule shortened to match;
# SwinIR and RDN keep their configs' 500. About 3 hours on 2 CPU cores for the defaults.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
cd "$ROOT"
ITERS=300
SEEDS="0 1"
ONLY="rtmdet_tiny faster-rcnn_r18_fpn swinir rdn yolov3_d53 dino_r18"
WORK="work_dirs/zoo_families_e2e/$(date +%Y%m%d_%H%M%S)"
while [ $# -gt 0 ]; do
    case "$1" in
        --iters) ITERS="$2"; shift 2 ;;
        --seeds) SEEDS="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --work-dir) WORK="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
"$PY" tools/dataset_converters/make_shapes_coco.py --out data/shapes_coco
"$PY" tools/dataset_converters/prepare_sr_photos.py --out data/sr_photos
export OMP_NUM_THREADS=1
DET_BUDGET=(train_cfg.max_iters=$ITERS train_cfg.val_interval=$ITERS
            param_scheduler.1.end=$ITERS param_scheduler.1.T_max=$ITERS
            default_hooks.checkpoint.interval=$ITERS)
for seed in $SEEDS; do
    for family in $ONLY; do
        case "$family" in
            swinir) name=swinir_x2e32d4_photos ;;
            rdn) name=rdn_x2c32b4_photos ;;
            srgan) name=srgan_x2c32b8_photos ;;
            *) name= ;;
        esac
        if [ -n "$name" ]; then
            dir=configs/super_resolution/photos
            metric=(PSNR SSIM)
            budget=()
            if [ "$family" = srgan ]; then  # N iterations, as detection
                budget=(train_cfg.max_iters=$ITERS
                        train_cfg.val_interval=$ITERS
                        param_scheduler.end=$ITERS param_scheduler.T_max=$ITERS
                        default_hooks.checkpoint.interval=$ITERS)
            fi
        else
            dir=configs/detection/shapes
            name=${family}_shapes
            metric=(coco/bbox_mAP coco/bbox_mAP_50)
            budget=("${DET_BUDGET[@]}")
        fi
        "$PY" tools/analysis_tools/train_and_compare.py \
            "$dir/${name}_bp.py" "$dir/${name}_man.py" \
            --test-config "$dir/${name}_bp.py" \
            --work-dir "$WORK/${name}_seed$seed" --metric "${metric[@]}" \
            --jobs 2 --cfg-options randomness.seed=$seed "${budget[@]}" \
            --out "$WORK/${name}_seed$seed.json"
    done
done
echo "results: $WORK"
