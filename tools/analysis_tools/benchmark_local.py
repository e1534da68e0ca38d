# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Compare BP, BP + activation checkpointing and local learning side by side.

For the base model of CONFIG (a BP config, or a man_mm config whose
``model.model`` is the base model) it measures, per training iteration on a
synthetic batch, with the config's own optimizer (learning rate 0): the true
peak memory a GPU would hold (weights, optimizer state, gradients,
activations, temporaries, recomputed tensors;
``man_mm.utils.TotalMemoryMeter``), the peak of tensors saved for backward
(``ActivationMemoryMeter``, the breakdown tool), the CUDA allocator peak
when on a GPU, and time. Classifiers (mmpretrain), single- and two-stage
detectors (mmdet) and EDSR super-resolution (mmagic) are supported;
``--breakdown`` adds, for detectors, where each local module's saved
activations go (module body, SLM/pyramid, neck, head + loss). Prints
tables and writes JSON.

    python tools/analysis_tools/benchmark_local.py \
        configs/classification/resnet32_cifar10_bp.py --batch-size 128 \
        --ks 2 4 8 16 --aux slm dgl --out benchmarks/results/r32.json
    python tools/analysis_tools/benchmark_local.py \
        configs/detection/retinanet/retinanet_r50_fpn_160e_coco_bp.py \
        --batch-size 2 --input-size 512 512 --ks 2 4 8 all \
        --aux man dgl --local-cp --step-per-module --breakdown
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import sys

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

AUX_TYPES = {
    'cls': {
        'slm': ('MAN (SLM)', dict(type='man_mm.SLMClsAux')),
        'slm_own_head': ('MAN, own head',
                         dict(type='man_mm.SLMClsAux', share_head=False)),
        'dgl': ('DGL', dict(type='man_mm.DGLClsAux')),
        'infopro': ('InfoPro', dict(type='man_mm.InfoProClsAux')),
        'auglocal': ('AugLocal', dict(type='man_mm.AugLocalClsAux')),
        'predsim': ('PredSim', dict(type='man_mm.PredSimClsAux')),
    },
    'det': {
        'man': ('MAN (SLM+bank)', dict(type='man_mm.SLMDetAux')),
        'man_own_head': ('MAN, own head',
                         dict(type='man_mm.SLMDetAux', share_head=False)),
        'man_noadapt': ('MAN w/o SLM+bank',
                        dict(type='man_mm.SLMDetAux', adapt=False)),
        'man_w050': ('MAN, SLM width 0.5',
                     dict(type='man_mm.SLMDetAux', width=0.5)),
        'dgl': ('DGL', dict(type='man_mm.DGLDetAux')),
    },
    'sr': {
        'man': ('MAN (SLM+bank)', dict(type='man_mm.SLMSRAux')),
        'man_own_head': ('MAN, own tail',
                         dict(type='man_mm.SLMSRAux', share_head=False)),
        'man_noadapt': ('MAN w/o SLM+bank',
                        dict(type='man_mm.SLMSRAux', adapt=False)),
    },
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument(
        '--input-size', type=int, nargs=2, default=(32, 32),
        metavar=('H', 'W'))
    parser.add_argument(
        '--ks', nargs='+', default=['2', '4', '8', 'all'],
        help="K values; 'all' = one module per trainable unit (the paper's "
        'default split)')
    parser.add_argument(
        '--aux', nargs='+', default=None,
        help='aux nets to measure at every K. Classification: '
        f"{', '.join(AUX_TYPES['cls'])} (default slm); detection: "
        f"{', '.join(AUX_TYPES['det'])} (default man); super-resolution: "
        f"{', '.join(AUX_TYPES['sr'])} (default man)")
    parser.add_argument(
        '--breakdown', action='store_true',
        help='per-module memory breakdown of the local variants (detection)')
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--no-cp', action='store_true',
                        help='skip BP + activation checkpointing')
    parser.add_argument(
        '--local-cp', action='store_true',
        help='also measure every local variant with checkpointing inside '
        'the local steps (LocalLearningModel with_cp=True)')
    parser.add_argument(
        '--step-per-module', action='store_true',
        help='measure the local variants with step_per_module=True (each '
        "module's gradients applied and freed after its backward; with the "
        "config's clip_grad, clipping becomes per module) instead of the "
        'default (per module only when exact)')
    parser.add_argument(
        '--optimizer', choices=['config', 'sgd'], default='config',
        help="the config's own optim_wrapper (lr set to 0) or plain SGD "
        'with momentum 0.9 (lr 0)')
    parser.add_argument(
        '--warmup-batch-size', type=int, default=None,
        help='batch size of the warm-up iterations, which create the '
        'optimizer state (default: --batch-size; 1 saves CPU time)')
    parser.add_argument('--out', help='write the results to this JSON file')
    return parser.parse_args(argv)


def run(args):
    from man_mm.models import LocalLearningModel
    from man_mm.analysis import (accepts_with_cp, base_model_cfg,
                                 build_optim_wrapper, make_batches,
                                 measure_train_step, module_breakdown,
                                 task_of, with_cp)

    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    base = base_model_cfg(cfg)
    task = task_of(base)
    aux_names = args.aux or (['slm'] if task == 'cls' else ['man'])
    unknown = set(aux_names) - set(AUX_TYPES[task])
    if unknown:
        raise SystemExit(f'unknown --aux {sorted(unknown)} for this task; '
                         f'choose from {sorted(AUX_TYPES[task])}')
    batch = make_batches(task, base, args.input_size, args.batch_size)
    warm = make_batches(task, base, args.input_size,
                        args.warmup_batch_size or args.batch_size)

    variants = [('BP', '-', lambda: MODELS.build(copy.deepcopy(base)),
                 False)]
    if not args.no_cp and task != 'sr':  # EDSRNet has no with_cp switch
        if accepts_with_cp(base['backbone']['type']):
            variants.append(('BP + with_cp', '-',
                             lambda: MODELS.build(with_cp(base)), False))
        else:
            # No with_cp switch (Darknet): K=1 is BP, and man_mm's own
            # checkpointing recomputes every unit in the backward.
            variants.append((
                'BP + with_cp (man_mm, K=1 per unit)', '-',
                lambda: LocalLearningModel(copy.deepcopy(base),
                                           num_modules=1, with_cp=True),
                False))
    step = True if args.step_per_module else None
    cps = [False, True] if args.local_cp else [False]
    for aux in aux_names:
        label, aux_cfg = AUX_TYPES[task][aux]
        for cp in cps:
            for k in args.ks:
                num = None if k == 'all' else int(k)
                variants.append((
                    (label, cp), k,
                    lambda num=num, aux_cfg=aux_cfg, cp=cp:
                    LocalLearningModel(copy.deepcopy(base), num_modules=num,
                                       aux=aux_cfg, with_cp=cp,
                                       step_per_module=step),
                    k == args.ks[-1] and not cp))

    rows, breakdowns = [], []
    for method, k, build, finest in variants:
        torch.manual_seed(0)
        model = build()
        optim = build_optim_wrapper(cfg, model.to(args.device),
                                    args.optimizer)
        row = {}
        if hasattr(model, 'num_modules') and not isinstance(method, str):
            k = model.num_modules
            # 'one step': all gradients held until one step per iteration
            # (the default when per-module steps would not be exact).
            label, cp = method
            row['step_per_module'] = model.steps_per_module(optim)
            method = label + ('' if row['step_per_module'] else
                              ', one step') + (' + cp' if cp else '')
        print(f'measuring {method} K={k} ...', file=sys.stderr, flush=True)
        row.update(method=method, K=k)
        try:
            row.update(
                measure_train_step(model, batch, args.iters, args.warmup,
                                   args.device, optim_wrapper=optim,
                                   warmup_batch=warm))
        except Exception as e:  # one failing variant must not lose the rest
            print(f'  {method} K={k} failed: {e}', file=sys.stderr)
            row['error'] = str(e)
            rows.append(row)
            continue
        rows.append(row)
        # The breakdown costs one more iteration: only for the last K given
        # (the finest split when --ks is in ascending order).
        if args.breakdown and finest:
            breakdowns.append(
                dict(method=method, K=k,
                     modules=module_breakdown(model, batch(0), args.device)))
        del model, optim
        if args.device.startswith('cuda'):
            torch.cuda.empty_cache()
    bp = rows[0]
    for row in rows:
        if 'error' not in row and 'error' not in bp:
            row['total_vs_bp'] = row['total_mib'] / bp['total_mib']
            row['act_vs_bp'] = row['act_mem_mib'] / bp['act_mem_mib']
            row['time_vs_bp'] = row['time_s'] / bp['time_s']
    return rows, breakdowns


def main(argv=None):
    from man_mm.analysis import format_table
    args = parse_args(argv)
    rows, breakdowns = run(args)
    columns = [('method', 'method', '{}'), ('K', 'K', '{}'),
               ('total_mib', 'true peak (MiB)', '{:.1f}'),
               ('total_vs_bp', 'vs BP', '{:.1%}'),
               ('static_mib', 'static (MiB)', '{:.1f}'),
               ('act_mem_mib', 'saved act. (MiB)', '{:.1f}'),
               ('act_vs_bp', 'vs BP', '{:.1%}'),
               ('cuda_peak_mib', 'CUDA peak (MiB)', '{:.0f}'),
               ('time_s', 's/iter', '{:.3f}'),
               ('time_vs_bp', 'time vs BP', '{:.2f}x'),
               ('params_m', 'params (M)', '{:.3f}')]
    device = args.device if args.device == 'cpu' else \
        torch.cuda.get_device_name()
    print(f'\n{osp.basename(args.config)}: batch {args.batch_size} x '
          f'3x{args.input_size[0]}x{args.input_size[1]}, device {device}, '
          f'torch {torch.__version__}')
    print(format_table(rows, columns))
    for b in breakdowns:
        print(f"\nwhere the memory goes: {b['method']}, K={b['K']} "
              '(MiB alive at the end of each part of a local step)')
        print(format_table(b['modules'], [
            ('module', 'module', '{}'), ('units', 'units', '{}'),
            ('input', 'input', '{:.1f}'), ('body', 'body', '{:.1f}'),
            ('slm', 'SLM/pyramid', '{:.1f}'), ('neck', 'neck', '{:.1f}'),
            ('head', 'head+loss', '{:.1f}'), ('peak', 'peak', '{:.1f}')]))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, batch_size=args.batch_size,
                           input_size=list(args.input_size), device=device,
                           iters=args.iters, warmup=args.warmup,
                           threads=torch.get_num_threads(),
                           optimizer=args.optimizer,
                           warmup_batch_size=args.warmup_batch_size,
                           torch=torch.__version__,
                           machine=platform.machine(), rows=rows,
                           breakdowns=breakdowns), f,
                      indent=2)
        print(f'wrote {args.out}')
    return rows


if __name__ == '__main__':
    main()
