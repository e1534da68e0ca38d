#!/usr/bin/env bash
# The GPU check: one command that measures, on one CUDA device, the memory
# and speed the docs claim on CPU (tools/analysis_tools/gpu_check.py), and
# writes benchmarks/results/gpu/gpu_check.{json,md}.
#
# On the GPU machine (Python 3.12 + torch with CUDA, no internet), with the
# kit prepared beforehand by tools/gpu_kit/prepare.sh and carried in
# (gpu_kit/part1, and gpu_kit/part2 where scipy/matplotlib are missing):
#   bash tools/experiments/gpu_check.sh
# Anywhere, on the CPU (what CI runs):
#   bash tools/experiments/gpu_check.sh --dry-run [--out-dir DIR]
#
# The GPU run uses a venv at ~/.cache/man_mm/gpu-venv that sees the
# machine's own torch (--system-site-packages) and gets the kit's wheels
# and an mmcv built there; the dry run uses tools/setup_env.sh's venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [[ " $* " == *" --dry-run "* ]]; then
    PY="$(bash tools/setup_env.sh | tail -n 1)/bin/python"
else
    # Every man_mm script (dist_train.sh too) finds this venv through
    # setup_env.sh, which installs nothing into a venv marked external.
    export MAN_MM_VENV="${MAN_MM_VENV:-$HOME/.cache/man_mm/gpu-venv}"
    BASE="${PYTHON:-$(command -v python3)}"
    if [ ! -x "$MAN_MM_VENV/bin/python" ]; then
        "$BASE" -m venv --system-site-packages "$MAN_MM_VENV"
        touch "$MAN_MM_VENV/.man_mm_external"
    fi
    PY="$MAN_MM_VENV/bin/python"
    parts=()
    for part in "$ROOT"/gpu_kit/part*; do [ -d "$part" ] && parts+=("$part"); done
    if [ "${#parts[@]}" -gt 0 ]; then
        PYTHON="$PY" bash tools/gpu_kit/install.sh "${parts[@]}"
    fi
    bash tools/setup_env.sh >/dev/null  # links this checkout into the venv
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec "$PY" tools/analysis_tools/gpu_check.py "$@"
