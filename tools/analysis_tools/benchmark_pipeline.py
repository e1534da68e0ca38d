# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Pipelined local learning against one process and data parallelism.

    python tools/analysis_tools/benchmark_pipeline.py \\
        configs/classification/resnet32_cifar10_man_k16.py \\
        --global-batch 128 --stages 2 --ddp 2 --heads own shared \\
        --out benchmarks/results/pipeline_resnet32_cifar10_k16_cpu.json

At the same global batch, on synthetic batches of the config's task: one
process; ``LocalPipelineParallel`` with each of ``--stages`` stages (one
process per stage, the whole batch flowing through); and
``LocalDistributedDataParallel`` on ``--ddp`` processes (each half the
batch). ``--heads own`` gives every aux net a head of its own (the stages
are fully decoupled), ``shared`` keeps MAN's default shared head (every
stage holds a replica, summed across stages each iteration). One torch
thread per process by default, as the DDP benchmark. Per setting: images/s
(timed after warm-up, all processes, the slowest one's time), each
process's true peak (TotalMemoryMeter: weights, gradients, optimizer state,
activations, buffers received), and the communication: bytes handed from
stage to stage or all-reduced per iteration, time issuing sends, time
blocked receiving (which includes waiting for the previous stage's compute:
the bubble) and time in all-reduces. Pipeline throughput is steady state:
after warm-up and a barrier, one untimed iteration refills the pipeline,
then every process times its own iterations (the slowest counts); fill
and drain are not counted. ``--memory-only`` settings skip the
timing (e.g. 4 stages on a 2-core machine).
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
    parser.add_argument('--global-batch', type=int, default=128)
    parser.add_argument('--input-size', type=int, nargs=2, default=[32, 32],
                        help='H W of the synthetic images')
    parser.add_argument('--stages', type=int, nargs='+', default=[2])
    parser.add_argument('--ddp', type=int, default=2,
                        help='DDP processes (0: skip)')
    parser.add_argument('--heads', nargs='+', default=['own', 'shared'],
                        choices=['own', 'shared'])
    parser.add_argument('--memory-only', type=int, nargs='*', default=[],
                        help='stage counts measured for memory only')
    parser.add_argument('--iters', type=int, default=6)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=1,
                        help='rounds of (1 process, pipeline, DDP); the '
                        'median images/s is kept')
    parser.add_argument('--out', help='JSON file to write')
    return parser.parse_args(argv)


def build(config, head):
    """The config's LocalLearningModel (aux with its own or the shared
    head), its task and a batch maker."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope, init_default_scope

    import man_mm.models  # noqa: F401
    from man_mm.analysis.benchmark import base_model_cfg, task_of
    from man_mm.registry import MODELS
    cfg = Config.fromfile(config)
    if DefaultScope.get_current_instance() is None:
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') \
        else dict(cfg.model)
    base = base_model_cfg(cfg)
    task = task_of(base)
    if head == 'own':
        default = {'cls': 'man_mm.SLMClsAux', 'det': 'man_mm.SLMDetAux',
                   'sr': 'man_mm.SLMSRAux'}[task]
        aux = dict(model_cfg.get('aux') or dict(type=default))
        aux['share_head'] = False
        model_cfg['aux'] = aux
    torch.manual_seed(0)
    # Default initialisation: init_weights would fetch pretrained weights.
    model = MODELS.build(model_cfg)
    return model, cfg, base, task


def measure_one(rank, world, args, setting, device):
    import torch.distributed as dist

    from man_mm.analysis.benchmark import build_optim_wrapper, make_batches
    from man_mm.models import (LocalDistributedDataParallel,
                               LocalPipelineParallel)
    from man_mm.utils import TotalMemoryMeter
    model, cfg, base, task = build(args.config, setting['head'])
    model.to(device)
    kind = setting['kind']
    per = args.global_batch // world if kind == 'ddp' else args.global_batch
    batches = make_batches(task, base, args.input_size, per)
    step, link, sync = model.train_step, None, None
    if kind == 'pipeline':
        wrapper = LocalPipelineParallel(model, num_stages=world,
                                        profile_repeats=1,
                                        report_interval=10**9)
        wrapper.data_sharded = True  # synthetic batches, no sampler
        step, link = wrapper.train_step, wrapper.link
    elif kind == 'ddp':
        wrapper = LocalDistributedDataParallel(model)
        step, sync = wrapper.train_step, wrapper.grad_sync
    ow = build_optim_wrapper(cfg, model)

    def barrier():
        if kind == 'pipeline':
            wrapper.finish()
        if device == 'cuda':
            torch.cuda.synchronize()
        if world > 1:
            dist.barrier()

    it = 0
    for _ in range(args.warmup):
        step(batches(it), ow)
        it += 1
    if kind == 'pipeline':
        sync = wrapper.grad_sync
    barrier()
    timed = not setting.get('memory_only')
    elapsed = None
    if timed:
        if kind == 'pipeline':
            # Refill the pipeline after the barrier drained it: the timed
            # iterations are steady state (each process times its own).
            step(batches(it), ow)
            it += 1
        if link is not None:
            link.reset_stats()
            wrapper.reset_stage_times()
        if sync is not None:
            sync.stats.update(allreduce_calls=0, allreduce_bytes=0,
                              comm_wait_s=0.)
        start = time.perf_counter()
        for _ in range(args.iters):
            step(batches(it), ow)
            it += 1
        if kind != 'pipeline':
            barrier()
        elapsed = time.perf_counter() - start
        barrier()
    stats = dict(link.stats) if link is not None else {}
    stage_times = wrapper.stage_times() if kind == 'pipeline' else {}
    allreduce = dict(sync.stats) if sync is not None else {}
    barrier()
    with TotalMemoryMeter.for_training(model, ow) as meter:
        step(batches(it), ow)
        barrier()
    n = max(args.iters, 1)
    mine = dict(
        rank=rank,
        stage=getattr(wrapper, 'stage', None) if kind == 'pipeline'
        else None,
        peak_mib=meter.peak_mib, static_mib=meter.static_mib,
        s_per_iter=elapsed / n if elapsed else None,
        sent_mib_per_iter=stats.get('sent_bytes', 0) / 2**20 / n,
        send_s_per_iter=stats.get('send_s', 0.) / n,
        recv_wait_s_per_iter=stats.get('recv_wait_s', 0.) / n,
        allreduce_mib_per_iter=allreduce.get('allreduce_bytes', 0) / 2**20
        / n,
        allreduce_s_per_iter=allreduce.get('comm_wait_s', 0.) / n)
    if kind == 'pipeline':
        mine['plan'] = [list(b) for b in wrapper.plan.bounds]
        mine.update(stage_compute_s=stage_times['compute_s'],
                    stage_wait_s=stage_times['wait_s'],
                    stage_predicted_s=stage_times['predicted_s'])
    rows = [mine]
    if world > 1:
        rows = [None] * world
        dist.all_gather_object(rows, mine)
    s_per_iter = max(r['s_per_iter'] for r in rows) if timed else None
    return dict(
        setting,
        images_per_s=args.global_batch / s_per_iter if timed else None,
        s_per_iter=s_per_iter,
        max_peak_mib=max(r['peak_mib'] for r in rows),
        processes=sorted(rows, key=lambda r: r['rank']))


def main(argv=None):
    """Measure, print the table, write the JSON; return the rows."""
    import statistics
    import tempfile

    from man_mm.analysis.processes import launch
    args = parse_args(argv)
    groups = {}  # world size -> settings, launched together
    for head in args.heads:
        groups.setdefault(1, []).append(dict(
            name=f'1 process ({head} heads)', kind='single', procs=1,
            head=head))
        for s in args.stages:
            groups.setdefault(s, []).append(dict(
                name=f'pipeline, {s} stages ({head} heads)',
                kind='pipeline', procs=s, head=head,
                memory_only=s in args.memory_only))
        if args.ddp:
            groups.setdefault(args.ddp, []).append(dict(
                name=f'DDP, {args.ddp} processes ({head} heads)',
                kind='ddp', procs=args.ddp, head=head))
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            # Interleaved: each round runs every setting once.
            rows = []
            for world, settings in sorted(groups.items()):
                rows += launch(measure_one, args, settings, world, tmp)
            rounds.append(rows)
    rows = rounds[0]
    for i, row in enumerate(rows):
        speeds = [r[i]['images_per_s'] for r in rounds
                  if r[i]['images_per_s']]
        row['images_per_s_rounds'] = speeds
        row['images_per_s'] = statistics.median(speeds) if speeds else None
    for head in args.heads:
        base = next(r for r in rows if r['kind'] == 'single'
                    and r['head'] == head)
        for r in rows:
            if r['head'] != head:
                continue
            r['speedup'] = (r['images_per_s'] / base['images_per_s']
                            if r['images_per_s'] else None)
            r['peak_vs_one_process'] = r['max_peak_mib'] / \
                base['max_peak_mib']
    head = (f"{'setting':<34} {'img/s':>7} {'x1proc':>6} "
            f"{'peak/proc MiB (max)':>19} {'x1proc':>6} "
            f"{'sent MiB/it':>11} {'recv wait s/it':>14} "
            f"{'all-reduce s/it':>15}")
    print(head)
    print('-' * len(head))
    for r in rows:
        procs = r['processes']
        print(f"{r['name']:<34} "
              + (f"{r['images_per_s']:7.1f} {r['speedup']:6.2f} "
                 if r['images_per_s'] else f"{'-':>7} {'-':>6} ")
              + f"{r['max_peak_mib']:19.1f} {r['peak_vs_one_process']:6.2f} "
              f"{sum(p['sent_mib_per_iter'] for p in procs):11.2f} "
              f"{max(p['recv_wait_s_per_iter'] for p in procs):14.3f} "
              f"{max(p['allreduce_s_per_iter'] for p in procs):15.3f}")
        if r['kind'] != 'single':
            print('    per process peak MiB: ' + ', '.join(
                (f"stage {p['stage']} " if p['stage'] is not None else
                 f"rank {p['rank']} ") + f"{p['peak_mib']:.1f}"
                for p in procs))
        if r['kind'] == 'pipeline' and r['images_per_s']:
            print('    per stage s/iter: ' + ', '.join(
                f"stage {p['stage']} compute {p['stage_compute_s']:.3f} "
                f"(predicted {p['stage_predicted_s']:.3f}), waiting "
                f"{p['stage_wait_s']:.3f}" for p in sorted(
                    procs, key=lambda p: p['stage'])))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(
                config=args.config, global_batch=args.global_batch,
                input_size=args.input_size, iters=args.iters,
                warmup=args.warmup, repeats=args.repeats,
                threads_per_proc=args.threads,
                device=('cuda' if torch.cuda.is_available() else
                        f'cpu ({os.cpu_count()} cores, {platform.machine()})'),
                torch=torch.__version__, results=rows), f, indent=2)
        print(f'wrote {args.out}')
    return rows


if __name__ == '__main__':
    main()
