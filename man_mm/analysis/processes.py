"""Running one measurement on several processes (the distributed
benchmarks): spawn, initialise torch.distributed, gather rank 0's rows."""
import json
import os.path as osp
import socket
import time
from typing import Callable, List

import torch


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(rank: int, world: int, measure: Callable, args, settings: list,
         port, out: str) -> None:
    """One process: every setting in turn; rank 0 writes the rows."""
    torch.set_num_threads(args.threads)
    import torch.distributed as dist
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda':
        torch.cuda.set_device(rank)
    if world > 1:
        dist.init_process_group(
            'nccl' if device == 'cuda' else 'gloo',
            init_method=f'tcp://127.0.0.1:{port}', rank=rank,
            world_size=world)
    rows = [measure(rank, world, args, s, device) for s in settings]
    if world > 1:
        dist.destroy_process_group()
    if rank == 0:
        with open(out, 'w') as f:
            json.dump(rows, f)


def launch(measure: Callable, args, settings: list, world: int,
           tmp: str) -> List[dict]:
    """Run ``measure(rank, world, args, setting, device)`` for every
    setting on ``world`` processes (spawned; the calling process itself
    when ``world`` is 1) and return rank 0's rows.

    Args:
        measure (callable): A module-level function (it is pickled to the
            spawned processes).
        args (Namespace): The tool's arguments; ``args.threads`` sets the
            torch threads per process.
        settings (list[dict]): What to measure, in order.
        world (int): Number of processes.
        tmp (str): A folder for the rows.
    """
    import torch.multiprocessing as mp
    out = osp.join(tmp, f'{world}_{time.monotonic_ns()}.json')
    if world == 1:
        _run(0, 1, measure, args, settings, None, out)
    else:
        mp.start_processes(
            _run, args=(world, measure, args, settings, free_port(), out),
            nprocs=world, join=True, start_method='spawn')
    with open(out) as f:
        return json.load(f)
