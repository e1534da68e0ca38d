# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Distributed local learning against one process at the same global batch.

    python tools/analysis_tools/benchmark_local_ddp.py \\
        configs/classification/resnet32_digits_man_k16.py --global-batch 64 \\
        --procs 2 \\
        --out benchmarks/results/local_ddp_resnet32_digits_k16_b64_cpu.json

Runs the config's model on random classification batches: one process at
the global batch, then ``--procs`` processes (gloo on CPU, NCCL on GPUs)
at ``global / procs`` each under ``LocalDistributedDataParallel``, with the
overlap of communication and compute on and off. Prints a table of time
per iteration, communication time per iteration (time blocked on
all-reduces: launching and waiting; with overlap on, what the compute did
not hide) and peak activation memory per process, and writes it as JSON.
"""
import argparse
import json
import os
import os.path as osp
import platform
import time

import torch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a LocalLearningModel config')
    parser.add_argument('--global-batch', type=int, default=64)
    parser.add_argument('--procs', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--input-size', type=int, nargs=2, default=[32, 32])
    parser.add_argument(
        '--threads', type=int, default=1, help='torch threads per process')
    parser.add_argument('--bucket-size-mb', type=float, default=25.)
    parser.add_argument('--out', help='JSON file to write')
    return parser.parse_args(argv)


def build_model(config):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope, init_default_scope

    import man_mm.models  # noqa: F401
    from man_mm.registry import MODELS
    cfg = Config.fromfile(config)
    if DefaultScope.get_current_instance() is None:
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def make_batch(cfg, n, size, it):
    from man_mm.testing import fake_cls_batch
    num_classes = cfg.model.model.head.num_classes
    return fake_cls_batch(n, (3, *size), num_classes, seed=it)


def measure_one(rank, world, args, setting, device):
    """Time ``args.iters`` iterations of one setting."""
    import torch.distributed as dist
    from mmengine.optim import OptimWrapper

    from man_mm.utils import ActivationMemoryMeter
    model, cfg = build_model(args.config)
    model.to(device)
    step = model.train_step
    sync = None
    if world > 1:
        from man_mm.models import LocalDistributedDataParallel
        wrapper = LocalDistributedDataParallel(
            model, overlap=setting['overlap'],
            bucket_size_mb=args.bucket_size_mb)
        step, sync = wrapper.train_step, wrapper.grad_sync
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01,
                                      momentum=0.9))
    per = args.global_batch // world

    def batch(it):
        return make_batch(cfg, per, args.input_size, it)

    def barrier():
        if device == 'cuda':
            torch.cuda.synchronize()
        if world > 1:
            dist.barrier()

    with ActivationMemoryMeter.for_model(model) as meter:
        step(batch(0), ow)
    for it in range(1, args.warmup):
        step(batch(it), ow)
    if sync is not None:
        sync.reset_stats()
    barrier()
    start = time.perf_counter()
    for it in range(args.iters):
        step(batch(args.warmup + it), ow)
    barrier()
    elapsed = time.perf_counter() - start
    res = dict(
        s_per_iter=elapsed / args.iters,
        comm_s_per_iter=(sync.stats['comm_wait_s'] / args.iters
                         if sync else 0.),
        allreduce_mib_per_iter=(sync.stats['allreduce_bytes'] / 2**20 /
                                args.iters if sync else 0.),
        act_mem_mib=meter.peak_mib)
    if world == 1:
        return dict(setting, **res)
    gathered = [None] * world
    dist.all_gather_object(gathered, res)
    return dict(
        setting,
        s_per_iter=max(r['s_per_iter'] for r in gathered),
        comm_s_per_iter=max(r['comm_s_per_iter'] for r in gathered),
        allreduce_mib_per_iter=gathered[0]['allreduce_mib_per_iter'],
        act_mem_mib=max(r['act_mem_mib'] for r in gathered),
        act_mem_mib_per_rank=[r['act_mem_mib'] for r in gathered])


def main(argv=None):
    """Measure, print the table, write the JSON; return the rows."""
    import tempfile

    from man_mm.analysis.processes import launch
    args = parse_args(argv)
    if args.global_batch % args.procs:
        raise ValueError('--global-batch must divide by --procs')
    per = args.global_batch // args.procs
    settings = [
        dict(name=f'1 process, batch {args.global_batch}', procs=1,
             overlap=None),
        dict(name=f'{args.procs} processes x {per}, overlap on',
             procs=args.procs, overlap=True),
        dict(name=f'{args.procs} processes x {per}, overlap off',
             procs=args.procs, overlap=False),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        # One launch for the distributed settings (imports are slow).
        rows = launch(measure_one, args, settings[:1], 1, tmp) + launch(
            measure_one, args, settings[1:], args.procs, tmp)
    head = (f"{'setting':<34} {'s/iter':>7} {'comm s/iter':>11} "
            f"{'all-reduce MiB/iter':>19} {'act_mem MiB/proc':>16}")
    print(head)
    print('-' * len(head))
    for r in rows:
        print(f"{r['name']:<34} {r['s_per_iter']:7.3f} "
              f"{r['comm_s_per_iter']:11.3f} "
              f"{r['allreduce_mib_per_iter']:19.2f} "
              f"{r['act_mem_mib']:16.1f}")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(
                config=args.config, global_batch=args.global_batch,
                procs=args.procs, iters=args.iters, warmup=args.warmup,
                input_size=args.input_size, threads_per_proc=args.threads,
                bucket_size_mb=args.bucket_size_mb,
                device=('cuda' if torch.cuda.is_available() else
                        f'cpu ({os.cpu_count()} cores, {platform.machine()})'),
                torch=torch.__version__, results=rows), f, indent=2)
        print(f'wrote {args.out}')
    return rows


if __name__ == '__main__':
    main()
