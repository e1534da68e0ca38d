# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Train a model (BP or local learning) from a config, mmengine style.

    python tools/train.py configs/classification/resnet32_cifar10_man_k16.py
    bash tools/dist_train.sh CONFIG 8            # multi-GPU (or CPU: gloo)
    bash tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR
    mim train man_mm CONFIG                      # through OpenMMLab's mim

Distributed, a LocalLearningModel is wrapped in
man_mm.LocalDistributedDataParallel (keeps the memory saving) unless the
config sets model_wrapper_cfg; without CUDA the processes use gloo on CPU.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

# Imported first: registers the man_mm:: config prefix and lets torch load
# mmengine's resume files.
import man_mm  # noqa: F401
from man_mm.engine.config_checks import (check_data_roots, check_load_from,
                                         check_loop_cfgs, check_optim_wrapper,
                                         check_work_dir)
from man_mm.engine.dist_setup import cpu_distributed, use_local_ddp


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.num_modules=8')
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


def merge_args(cfg, args):
    """Fold command-line switches into the config."""
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp works with OptimWrapper only, the config '
                             f'uses {optim_wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in \
                cfg.auto_scale_lr:
            raise KeyError('--auto-scale-lr needs auto_scale_lr.'
                           'base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    return cfg


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_work_dir(cfg)
    check_loop_cfgs(cfg)
    check_optim_wrapper(cfg)
    # Distributed ranks would race to write an embedded data set.
    check_data_roots(
        cfg, write_embedded=int(os.environ.get('WORLD_SIZE', '1')) == 1)
    check_load_from(cfg)
    use_local_ddp(cfg)
    with cpu_distributed(cfg):
        runner = Runner.from_cfg(cfg)
        runner.train()


if __name__ == '__main__':
    main()
