#!/usr/bin/env bash
# Prepare the GPU kit HERE (a machine with PyPI access): every wheel the GPU
# check needs on the borrowed GPU machine (Python 3.12, torch 2.11 + CUDA
# 13, numpy 2.x, nvcc, 16 cores, no internet), in parts of at most 64 MiB
# (what one device call may carry).
#
#   bash tools/gpu_kit/prepare.sh [KIT_DIR]       # default: gpu_kit/
#
# part1/ (always carried): mmengine, mmdet, mmpretrain, the mmcv 2.1.0
#   sdist (built there, CPU ops only: see install.sh), pycocotools and the
#   small pure-Python dependencies, and opencv-python-headless (mmcv
#   imports cv2).
# part2/ (carried only if the machine lacks them): scipy (mmdet's
#   Hungarian assigner is imported with mmdet.models) and matplotlib.
# mmagic is not in the kit: it needs numpy < 2 (np.bool8) and diffusers/
# transformers, which do not fit; the check reports its EDSR case as
# skipped when mmagic cannot be imported.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KIT="${1:-$ROOT/gpu_kit}"
PY_VERSION=3.12
LIMIT_MIB=64
PLATFORMS=(--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux_2_24_x86_64 --platform manylinux_2_28_x86_64)
# The project's environment: mmcv's sdist runs setup.py (which imports
# torch) to give its metadata, even to be downloaded.
PY="${PYTHON:-$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)/bin/python}"

download() {  # download DIR PACKAGE...
    local dir="$1"; shift
    mkdir -p "$dir"
    "$PY" -m pip download --disable-pip-version-check --no-deps -q \
        --python-version "$PY_VERSION" "${PLATFORMS[@]}" \
        --only-binary=:all: -d "$dir" "$@"
}

rm -rf "$KIT"
# The OpenMMLab stack (pure Python) and what they import beyond torch and
# numpy; versions as tools/setup_env.sh pins them.
download "$KIT/part1" mmengine==0.10.7 mmdet==3.3.0 mmpretrain==1.2.0 \
    pycocotools==2.0.11 addict==2.4.0 yapf==0.43.0 termcolor==3.3.0 \
    rich==13.4.2 markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0 \
    platformdirs==4.14.8 tomli terminaltables==3.1.10 shapely==2.2.0 \
    opencv-python-headless==4.10.0.84 pyyaml tqdm setuptools==80.9.0 wheel
# mmcv 2.1.0 has no wheel for torch 2.11 / cp312: its sdist, built there.
"$PY" -m pip download --disable-pip-version-check --no-deps -q \
    --no-build-isolation --no-binary :all: -d "$KIT/part1" mmcv==2.1.0
download "$KIT/part2" scipy matplotlib contourpy cycler fonttools \
    kiwisolver pyparsing python-dateutil six pillow
cp "$ROOT/tools/gpu_kit/install.sh" "$KIT/"

ok=0
for part in "$KIT"/part*; do
    mib=$(( $(du -sk "$part" | cut -f1) / 1024 ))
    echo "$(basename "$part"): ${mib} MiB, $(ls "$part" | wc -l) files"
    if [ "$mib" -gt "$LIMIT_MIB" ]; then
        echo "  over the ${LIMIT_MIB} MiB a device call may carry" >&2
        ok=1
    fi
done
exit "$ok"
