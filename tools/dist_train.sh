#!/usr/bin/env bash
# Distributed training with torch.distributed (torchrun): N GPUs, or N CPU
# processes with the gloo backend when CUDA is unavailable:
#   bash tools/dist_train.sh CONFIG GPUS [train.py args]
# Uses the environment of tools/setup_env.sh, like every man_mm script.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
VENV="$(bash "$ROOT/tools/setup_env.sh" | tail -n 1)"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$VENV/bin/python" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
