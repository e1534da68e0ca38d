# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Compare BP, BP + activation checkpointing and local learning side by side.

For the base model of CONFIG (a BP config, or a man_mm config whose
``model.model`` is the base model) it measures, per training iteration on a
synthetic batch: peak activation memory (device independent, see
``man_mm.utils.ActivationMemoryMeter``), the CUDA allocator peak when on a
GPU, and time. Prints a table and writes JSON.

    python tools/analysis_tools/benchmark_local.py \
        configs/classification/resnet32_cifar10_bp.py --batch-size 128 \
        --ks 2 4 8 16 --aux slm dgl --out benchmarks/results/r32.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

AUX_TYPES = {
    'slm': dict(type='man_mm.SLMClsAux', share_head=True),
    'slm_own_head': dict(type='man_mm.SLMClsAux', share_head=False),
    'dgl': dict(type='man_mm.DGLClsAux'),
    'infopro': dict(type='man_mm.InfoProClsAux'),
    'auglocal': dict(type='man_mm.AugLocalClsAux'),
    'predsim': dict(type='man_mm.PredSimClsAux'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument(
        '--input-size', type=int, nargs=2, default=(32, 32),
        metavar=('H', 'W'))
    parser.add_argument('--ks', type=int, nargs='+', default=[2, 4, 8, 16])
    parser.add_argument(
        '--aux', nargs='+', default=['slm'], choices=sorted(AUX_TYPES),
        help='aux nets to measure at every K (MAN = slm)')
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--no-cp', action='store_true',
                        help='skip BP + activation checkpointing')
    parser.add_argument('--out', help='write the results to this JSON file')
    return parser.parse_args(argv)


def base_model_cfg(cfg: Config) -> dict:
    model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(
        cfg.model)
    if model['type'].endswith('LocalLearningModel'):
        return model['model']
    return model


def run(args) -> list:
    from man_mm.models import LocalLearningModel
    from man_mm.utils import fake_cls_batch, measure_train_step
    from man_mm.utils.benchmark import with_cp

    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    base = base_model_cfg(cfg)
    num_classes = base['head'].get('num_classes', 10)
    shape = (3, *args.input_size)

    def batch(i):
        return fake_cls_batch(args.batch_size, shape, num_classes, seed=i)

    variants = [('BP', '-', lambda: MODELS.build(base))]
    if not args.no_cp:
        variants.append(('BP + with_cp', '-',
                         lambda: MODELS.build(with_cp(base))))
    for aux in args.aux:
        for k in args.ks:
            name = 'MAN (SLM)' if aux == 'slm' else aux
            variants.append((name, k, lambda k=k, aux=aux: LocalLearningModel(
                base, num_modules=k, aux=AUX_TYPES[aux])))

    rows = []
    for method, k, build in variants:
        torch.manual_seed(0)
        model = build()
        print(f'measuring {method} K={k} ...', file=sys.stderr, flush=True)
        row = dict(method=method, K=k)
        row.update(
            measure_train_step(model, batch, args.iters, args.warmup,
                               args.device))
        rows.append(row)
        del model
        if args.device.startswith('cuda'):
            torch.cuda.empty_cache()
    bp = rows[0]
    for row in rows:
        row['act_vs_bp'] = row['act_mem_mib'] / bp['act_mem_mib']
        row['time_vs_bp'] = row['time_s'] / bp['time_s']
    return rows


def main(argv=None):
    from man_mm.utils import format_table
    args = parse_args(argv)
    rows = run(args)
    columns = [('method', 'method', '{}'), ('K', 'K', '{}'),
               ('act_mem_mib', 'act. mem (MiB)', '{:.1f}'),
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
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, batch_size=args.batch_size,
                           input_size=list(args.input_size), device=device,
                           torch=torch.__version__,
                           machine=platform.machine(), rows=rows), f,
                      indent=2)
        print(f'wrote {args.out}')
    return rows


if __name__ == '__main__':
    main()
