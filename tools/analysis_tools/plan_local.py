# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Find the local-learning settings that fit a memory budget.

Measures every trainable unit of CONFIG's model once (one profiling
iteration with one module per unit, without and with checkpointing inside
the local steps, at the given batch), then predicts the true peak memory
(weights, optimizer state, gradients, activations, temporaries) and the time
per iteration of every K (even split) with checkpointing off and on, and,
for detectors, with the lean SLM switch at ``--slm-widths``. Prints
the settings that fit ``--budget-mib``, fastest first, with the
``--cfg-options`` that select them; ``--verify`` trains one iteration of the
first one and prints measured against predicted.

    python tools/analysis_tools/plan_local.py \\
        configs/detection/retinanet/retinanet_r50_fpn_160e_coco_man.py \\
        --budget-mib 900 --batch-size 2 --input-size 512 512 --verify
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope



def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--budget-mib', type=float, default=None,
                        help='true peak memory budget (MiB)')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--input-size', type=int, nargs=2, default=(512, 512),
                        metavar=('H', 'W'))
    parser.add_argument('--ks', type=int, nargs='+', default=None,
                        help='K values to consider (default: a range up to '
                        'one module per unit)')
    parser.add_argument(
        '--step-per-module', action='store_true',
        help='plan with step_per_module=True (with clip_grad in the config '
        'this clips each module on its own); by default modules step '
        'separately only where that is exact')
    parser.add_argument(
        '--slm-widths', type=float, nargs='+', default=[1.0],
        help="detectors: also plan the lean SLM switch at these inner "
        "widths (man_mm.SLMDetAux width; 1.0 is the paper's SLM), e.g. "
        '1.0 0.5; each width is profiled once more')
    parser.add_argument('--verify', action='store_true',
                        help='measure the first fitting setting')
    parser.add_argument('--out', help='write the plan to this JSON file')
    return parser.parse_args(argv)


def main(argv=None):
    from man_mm.models import LocalLearningModel
    from man_mm.analysis import (base_model_cfg, build_optim_wrapper,
                                 format_table, make_batches,
                                 measure_train_step, task_of)
    from man_mm.analysis.planner import (plan, profile_units,
                                            setting_options)
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    base = base_model_cfg(cfg)
    local_kwargs = {}
    if cfg.model['type'].endswith('LocalLearningModel'):
        local_kwargs = {k: v for k, v in cfg.model.to_dict().items()
                        if k not in ('type', 'model', 'num_modules',
                                     'split_points', 'with_cp',
                                     'step_per_module')}
    task = task_of(base)
    batch = make_batches(task, base, args.input_size, args.batch_size)
    small = make_batches(task, base, args.input_size, 1)
    step = True if args.step_per_module else None

    def local_kwargs_at(width):
        if width == 1.0:
            return local_kwargs
        aux = dict(local_kwargs.get('aux') or dict(type='man_mm.SLMDetAux'))
        if task != 'det' or not aux['type'].endswith('SLMDetAux'):
            raise SystemExit(
                f'--slm-widths {width}: the lean SLM switch is '
                "man_mm.SLMDetAux's width (detectors with MAN's aux); this "
                f"config's aux is {aux['type']!r}.")
        return dict(local_kwargs, aux=dict(aux, width=width))

    def build_local(num_modules=None, width=1.0, **kwargs):
        return LocalLearningModel(copy.deepcopy(base),
                                  num_modules=num_modules,
                                  **local_kwargs_at(width), **kwargs)

    def build_optim(model):
        return build_optim_wrapper(cfg, model)

    rows, profiles = [], []
    for width in args.slm_widths:
        print(f'profiling every unit (two iterations, SLM width {width}) '
              '...', file=sys.stderr, flush=True)
        profile = profile_units(
            lambda **kw: build_local(width=width, **kw), build_optim, batch,
            small, step)
        profiles.append(profile)
        for row in plan(profile, args.budget_mib, args.ks):
            row['slm_width'] = width
            row['options'] = setting_options(row, args.step_per_module)
            rows.append(row)
    rows.sort(key=lambda r: (not r['fits'], r['time_s']))
    profile = profiles[0]
    print(f'\n{osp.basename(args.config)}: batch {args.batch_size} x 3x'
          f'{args.input_size[0]}x{args.input_size[1]}, '
          f'{len(profile.units)} trainable units, step per module: '
          f'{profile.step_per_module}, budget: '
          f'{args.budget_mib or "none"} MiB (predicted true peaks)')
    print(format_table(rows, [
        ('num_modules', 'K', '{}'), ('with_cp', 'with_cp', '{}'),
        ('slm_width', 'SLM width', '{}'),
        ('total_mib', 'true peak (MiB)', '{:.1f}'),
        ('static_mib', 'static (MiB)', '{:.1f}'),
        ('time_s', 's/iter', '{:.2f}'), ('fits', 'fits', '{}')]))
    fitting = [r for r in rows if r['fits']]
    result = dict(config=args.config, batch_size=args.batch_size,
                  input_size=list(args.input_size),
                  budget_mib=args.budget_mib,
                  step_per_module=profile.step_per_module, plan=rows)
    if not fitting:
        print('\nno setting fits the budget; the smallest predicted peak '
              f"is {min(r['total_mib'] for r in rows):.1f} MiB.")
    else:
        best = fitting[0]
        print(f"\nfastest fitting setting: --cfg-options {best['options']}")
        if args.verify:
            torch.manual_seed(0)
            model = build_local(num_modules=best['num_modules'],
                                width=best['slm_width'],
                                with_cp=best['with_cp'], step_per_module=step)
            measured = measure_train_step(
                model, batch, iters=1, warmup=1,
                optim_wrapper=build_optim(model), warmup_batch=small)
            err = measured['total_mib'] / best['total_mib'] - 1
            print(f"verify: measured {measured['total_mib']:.1f} MiB vs "
                  f"predicted {best['total_mib']:.1f} MiB ({err:+.1%}); "
                  f"{measured['time_s']:.2f} s/iter vs predicted "
                  f"{best['time_s']:.2f} s")
            result['verify'] = dict(setting=best, measured=measured,
                                    total_error=err)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'wrote {args.out}')
    return result


if __name__ == '__main__':
    main()
