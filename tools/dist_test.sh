#!/usr/bin/env bash
# Distributed testing on one or more machines, with or without GPUs.
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
# NUM_PROCS processes per node (one per GPU; on a CPU-only machine, processes
# share the cores through gloo). Multi-node: set NNODES, NODE_RANK, MASTER_ADDR,
# PORT as for torchrun.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROCS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
# OpenMP threads spinning in every process oversubscribe the cores
# (3x slower training measured on 2 cores); one thread per process by default.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" \
    --master_port="$PORT" \
    "$ROOT/tools/test.py" \
    "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
