#!/usr/bin/env bash
# Distributed evaluation with torch.distributed (torchrun):
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# Without CUDA the processes run on CPU with the gloo backend. Uses the
# environment of tools/setup_env.sh, like every man_mm script.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
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
    "$ROOT/tools/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
