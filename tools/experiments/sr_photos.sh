#!/usr/bin/env bash
# Super-resolution experiment on the embedded REAL photographs (scikit-image's
# test images, bicubic x2 LR; CPU): a small EDSR (32 channels, 8 blocks)
# trained for the same fixed budget (500 iterations of 8 48x48 LR patches) by
# BP, MAN (SLM + feature bank with the global skip, shared tail, K=8) and MAN
# without SLM and bank (paper Table 4's Adapt off: no global skip in the aux
# nets), two runs at a time. Prints PSNR and SSIM on the 4 validation
# photographs (mmagic's metrics, crop border 2), peak memory and time per
# iteration side by side.
#   bash tools/experiments/sr_photos.sh [--jobs 1] [--cfg-options randomness.seed=1 ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"
PY="$VENV/bin/python"
cd "$ROOT"
"$PY" tools/dataset_converters/prepare_sr_photos.py --out data/sr_photos
WORK="work_dirs/sr_photos/$(date +%Y%m%d_%H%M%S)"
"$PY" tools/analysis_tools/train_and_compare.py \
    configs/super_resolution/photos/edsr_x2c32b8_photos_bp.py \
    configs/super_resolution/photos/edsr_x2c32b8_photos_man.py \
    configs/super_resolution/photos/edsr_x2c32b8_photos_man_noadapt.py \
    --work-dir "$WORK" --metric PSNR SSIM --out "$WORK/summary.json" \
    --jobs 2 "$@"
