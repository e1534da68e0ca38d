#!/usr/bin/env bash
# Install the GPU kit ON the GPU machine, offline, into its Python: every
# package of the given parts that does not import yet, then mmcv 2.1.0
# built from its sdist with CPU ops only (about 3 minutes on 16 cores;
# CUDA ops would take far longer). Without CUDA ops, mmcv's kernels that
# run on GPU tensors are missing: mmdet's FocalLoss (RetinaNet) is then
# computed by man_mm.TorchFocalLoss (same values, plain torch), and NMS
# (inference only) is not run by the check.
#
#   bash install.sh PART_DIR [PART_DIR ...]
set -euo pipefail
PY="${PYTHON:-$(command -v python3)}"
FIND=()
for part in "$@"; do FIND+=(--find-links "$part"); done

have() { "$PY" -c "import $1" >/dev/null 2>&1; }

# module:package of everything the check imports beyond torch and numpy.
want=()
for pair in mmengine:mmengine mmdet:mmdet mmpretrain:mmpretrain \
        pycocotools:pycocotools addict:addict yapf:yapf termcolor:termcolor \
        rich:rich markdown_it:markdown-it-py mdurl:mdurl pygments:pygments \
        platformdirs:platformdirs terminaltables:terminaltables \
        shapely:shapely cv2:opencv-python-headless yaml:pyyaml tqdm:tqdm \
        scipy:scipy matplotlib:matplotlib pkg_resources:setuptools==80.9.0 \
        wheel:wheel; do
    have "${pair%%:*}" || want+=("${pair##*:}")
done
if [ "${#want[@]}" -gt 0 ]; then
    echo "[gpu_kit] installing ${want[*]}"
    "$PY" -m pip install --no-index "${FIND[@]}" --no-deps "${want[@]}"
fi

if ! "$PY" -c "import mmcv.ops" >/dev/null 2>&1; then
    sdist=
    for part in "$@"; do
        [ -f "$part/mmcv-2.1.0.tar.gz" ] && sdist="$part/mmcv-2.1.0.tar.gz"
    done
    [ -n "$sdist" ] || { echo "[gpu_kit] mmcv sdist not in $*" >&2; exit 1; }
    build="$(mktemp -d)"
    tar -xzf "$sdist" -C "$build"
    echo "[gpu_kit] building mmcv 2.1.0 (CPU ops) against torch" \
        "$("$PY" -c 'import torch; print(torch.__version__)')"
    # CUDA hidden during the build: mmcv's setup.py compiles CUDA ops
    # whenever torch sees a GPU.
    (cd "$build/mmcv-2.1.0" && CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 \
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "$PY" -m pip install --no-build-isolation --no-deps --no-index .)
fi
"$PY" - <<'PY'
import mmcv, mmdet, mmengine, mmpretrain, torch  # noqa: F401
from mmcv.ops import nms  # noqa: F401  compiled ops present
print('[gpu_kit] ready: torch', torch.__version__, 'mmcv', mmcv.__version__,
      'mmdet', mmdet.__version__, 'mmpretrain', mmpretrain.__version__,
      'cuda', torch.cuda.is_available())
PY
