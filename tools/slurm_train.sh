#!/usr/bin/env bash
# Training on a slurm cluster (mmdet's conventions):
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# GPUS is the number of processes. GPUS_PER_NODE=0 runs CPU processes
# (TASKS_PER_NODE of them per node, gloo backend). Uses the environment of
# tools/setup_env.sh (on a file system the nodes share), never a bare python.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
if [ "$GPUS_PER_NODE" -gt 0 ]; then
    TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS_PER_NODE}
else
    # CPU tasks: all on one node unless told otherwise, and no GPU is used
    # even on GPU nodes (the gloo path starts only without CUDA).
    TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS}
    export CUDA_VISIBLE_DEVICES=
fi
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
GRES=()
if [ "$GPUS_PER_NODE" -gt 0 ]; then GRES=(--gres=gpu:"$GPUS_PER_NODE"); fi
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"

set -x
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES[@]+"${GRES[@]}"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$TASKS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$VENV/bin/python" -u "$ROOT/tools/train.py" "$CONFIG" \
    --work-dir="$WORK_DIR" --launcher=slurm "${@:5}"
