# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Evaluate a checkpoint with a config, mmengine style.

A local-learning checkpoint evaluates with its own (man_mm) config, and --
after ``tools/model_converters/strip_aux.py`` -- with the plain base config.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

from man_mm.engine.dist_setup import cpu_distributed, use_local_ddp

# mmengine 0.10 calls torch.load without weights_only; torch >= 2.6 would
# then refuse its own checkpoints (optimizer/message-hub state) on resume.
os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation results')
    parser.add_argument(
        '--out', help='dump the metrics to this json file')
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
        metrics = runner.test() or seen
    if args.out:
        import json
        with open(args.out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)


if __name__ == '__main__':
    main()
