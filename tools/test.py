# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Evaluate a checkpoint with a config, mmengine style.

A local-learning checkpoint evaluates with its own (man_mm) config, and --
after ``tools/model_converters/strip_aux.py`` -- with the plain base config.

    python tools/test.py CONFIG CHECKPOINT [--out preds.pkl]
    python tools/test.py CONFIG CHECKPOINT --out metrics.json --out-item metrics
    python tools/test.py CONFIG CHECKPOINT --show-dir vis
"""
import argparse
import os
import os.path as osp

import mmengine
from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults
from mmengine.hooks import Hook
from mmengine.runner import Runner

# Imported first: registers the man_mm:: config prefix and lets torch load
# mmengine's checkpoints.
import man_mm  # noqa: F401
from man_mm.engine.config_checks import check_data_roots
from man_mm.engine.dist_setup import cpu_distributed, use_local_ddp


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation results')
    parser.add_argument(
        '--out',
        help='write the predictions (a .pkl file, as mmpretrain and mmdet '
        'do) or, with --out-item metrics, the metrics (.json, .pkl, .yaml)')
    parser.add_argument(
        '--out-item',
        choices=['pred', 'metrics'],
        default='pred',
        help='what --out holds (default: pred)')
    parser.add_argument(
        '--show-dir',
        help='draw the predictions into this folder (mmpretrain and mmdet '
        "configs' visualization hook)")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg, show_dir):
    """Turn on the config's visualization hook, writing into ``show_dir``
    (mmpretrain's ``VisualizationHook``, mmdet's ``DetVisualizationHook``)."""
    vis = cfg.get('default_hooks', {}).get('visualization')
    if vis is None:
        raise ValueError(
            '--show-dir needs default_hooks.visualization in the config '
            "(mmpretrain's and mmdet's default_runtime set it); this config "
            'has none.')
    if 'Det' in vis['type']:  # mmdet's hook: draw, test_out_dir
        vis.update(draw=True, test_out_dir=osp.abspath(show_dir))
    else:
        vis.update(enable=True, out_dir=osp.abspath(show_dir))


def add_prediction_dump(runner, out):
    """Dump every prediction to ``out`` (mmengine's ``DumpResults``)."""
    loop = runner.test_loop
    if not hasattr(loop, 'evaluator'):
        raise ValueError(
            f'{type(loop).__name__} tests several data sets; write their '
            'metrics with --out FILE.json --out-item metrics instead.')
    loop.evaluator.metrics.append(DumpResults(out_file_path=out))


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out_item == 'pred' and args.out and not args.out.endswith(
            ('.pkl', '.pickle')):
        raise ValueError(f'--out {args.out}: predictions are written as a '
                         'pickle (.pkl); for the metrics add --out-item '
                         'metrics.')
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)
    check_data_roots(
        cfg, write_embedded=int(os.environ.get('WORLD_SIZE', '1')) == 1)
    use_local_ddp(cfg)  # its test_step is the base model's
    # CPU: gloo (mmengine's init_dist needs CUDA), destroyed at the end.
    with cpu_distributed(cfg):
        runner = Runner.from_cfg(cfg)
        seen = {}

        class KeepMetrics(Hook):
            # mmagic's MultiTestLoop returns nothing: read the metrics here.
            def after_test_epoch(self, runner, metrics=None):
                seen.update(metrics or {})

        runner.register_hook(KeepMetrics(), 'LOWEST')
        if args.out and args.out_item == 'pred':
            add_prediction_dump(runner, args.out)
        metrics = runner.test() or seen
    if args.out and args.out_item == 'metrics':
        mmengine.dump({k: float(v) for k, v in metrics.items()}, args.out,
                      indent=2)


if __name__ == '__main__':
    main()
