#!/usr/bin/env bash
# Create (or reuse) the man_mm Python environment. Idempotent: a stamp file
# records the hash of every requirements file, so a second run only refreshes
# the editable install of this checkout.
#
#   bash tools/setup_env.sh          # prints the venv path on its last line
#
# Environment variables:
#   MAN_MM_VENV       where the venv lives (default: ~/.cache/man_mm/venv)
#   MAN_MM_WHEELHOUSE where the locally built mmcv wheel is cached
#   PYTHON            interpreter used to create the venv (default: python3.11)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MAN_MM_VENV:-$HOME/.cache/man_mm/venv}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
MMCV_VERSION=2.1.0

log() { printf '[setup_env] %s\n' "$*" >&2; }

stamp_hash() {
    cat "$ROOT"/requirements/*.txt "$ROOT/tools/setup_env.sh" | sha256sum | cut -d' ' -f1
}

# A venv provisioned by other means (tools/experiments/gpu_check.sh on a GPU
# machine without internet: its own torch and the GPU kit): link this
# checkout in, install nothing.
if [ -f "$VENV/.man_mm_external" ]; then
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    ln -sfn "$ROOT/man_mm" "$SITE/man_mm"
    echo "$VENV"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv at $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -c "$CONSTRAINTS")

if [ "$(cat "$VENV/.man_mm_stamp" 2>/dev/null)" != "$(stamp_hash)" ]; then
    log "installing build tools"
    "${PIP[@]}" setuptools wheel
    log "installing torch/torchvision (pinned by $CONSTRAINTS)"
    "${PIP[@]}" torch torchvision numpy
    log "installing the OpenMMLab stack"
    "${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
        addict packaging Pillow pyyaml yapf opencv-python ninja
    # openmim pulls opendatalab/openxlab, which downgrade setuptools and requests.
    "${PIP[@]}" --no-deps openmim
    "${PIP[@]}" $(grep -vE '^(#|openmim)' "$ROOT/requirements/mim.txt")

    # mmcv 2.1.0 has no wheel for recent torch: build it from the sdist, with
    # its hard-coded -std=c++17 raised to c++20 (torch >= 2.14 headers need it).
    TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
    WHEELHOUSE="${MAN_MM_WHEELHOUSE:-$HOME/.cache/man_mm/wheels}/torch-$TORCH_VERSION"
    if ! ls "$WHEELHOUSE"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
        log "building mmcv $MMCV_VERSION with ops against torch $TORCH_VERSION (~20 min on 2 cores)"
        BUILD="$(mktemp -d)"
        "$PY" -m pip download --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD"
        tar -xzf "$BUILD"/mmcv-$MMCV_VERSION.tar.gz -C "$BUILD"
        sed -i 's/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
        mkdir -p "$WHEELHOUSE"
        (cd "$BUILD/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "$PY" -m pip wheel --no-build-isolation --no-deps -w "$WHEELHOUSE" .)
        rm -rf "$BUILD"
    fi
    "$PY" -m pip install --disable-pip-version-check --no-deps --force-reinstall \
        "$WHEELHOUSE"/mmcv-$MMCV_VERSION-*.whl

    # mmagic's declared requirements (mediapipe, face-alignment, ...) do not
    # resolve beside numpy<2 and are not needed for EDSR: install it bare.
    log "installing mmagic (--no-deps) and the modules it imports"
    "${PIP[@]}" --no-deps mmagic
    "${PIP[@]}" $(grep -vE '^(#|mmagic)' "$ROOT/requirements/sr.txt")

    log "checking imports"
    "$PY" - <<'PY'
import torch, torchvision, mmengine, mmcv, mmdet, mmpretrain, mmagic  # noqa: F401
from mmcv.ops import nms  # compiled ops present
import mmagic.models  # noqa: F401  (diffusers/transformers compatibility)
print('torch', torch.__version__, 'mmcv', mmcv.__version__, 'mmdet', mmdet.__version__,
      'mmpretrain', mmpretrain.__version__, 'mmagic', mmagic.__version__)
PY
    stamp_hash > "$VENV/.man_mm_stamp"
fi

# Point the venv at *this* checkout (CI clones elsewhere than the developer).
"$PY" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$ROOT" >&2
# mim (`mim train man_mm CFG`) and mmengine (`_base_ = 'man_mm::...'`) look
# for man_mm/.mim under the distribution's location, site-packages; an
# editable install has no package there, so link the checkout's in.
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ -d "$SITE/man_mm" ] && [ ! -L "$SITE/man_mm" ]; then
    rm -rf "$SITE/man_mm"  # a copy left by a non-editable install
fi
ln -sfn "$ROOT/man_mm" "$SITE/man_mm"
echo "$VENV"
