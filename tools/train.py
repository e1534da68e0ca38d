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
import glob
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from man_mm.engine.dist_setup import cpu_distributed, use_local_ddp

# mmengine 0.10 calls torch.load without weights_only; torch >= 2.6 would
# then refuse its own checkpoints (optimizer/message-hub state) on resume.
os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


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


def check_work_dir(cfg):
    """Refuse to overwrite checkpoints of an earlier run."""
    if cfg.get('resume', False):
        return
    old = sorted(glob.glob(osp.join(cfg.work_dir, '*.pth')))
    if old:
        raise FileExistsError(
            f'work dir {cfg.work_dir} already holds checkpoints '
            f'({", ".join(osp.basename(p) for p in old[:3])}'
            f'{", ..." if len(old) > 3 else ""}) that this run would '
            'overwrite. Pass --resume to continue that run, or choose '
            'another --work-dir.')


# Where the embedded data sets come from, for the error message.
DATA_HINTS = {
    'digits': 'python tools/dataset_converters/prepare_digits.py',
    'shapes_coco': 'python tools/dataset_converters/make_shapes_coco.py',
    'sr_photos': 'python tools/dataset_converters/prepare_sr_photos.py',
}
# Real sets read in a standard layout that a converter of their library
# makes (not downloaded by man_mm).
LAYOUT_HINTS = {
    'DIV2K': "mmagic's DIV2K layout (DIV2K_train_HR_sub, "
    'DIV2K_train_LR_bicubic/X{2,3,4}_sub, meta_info_DIV2K800sub_GT.txt), '
    "made from the official DIV2K zips by mmagic's "
    'tools/dataset_converters/div2k/preprocess_div2k_dataset.py',
    'Set5': "mmagic's Set5 layout (GTmod12/, LRbicx{2,3,4}/)",
    'Set14': "mmagic's Set14 layout (GTmod12/, LRbicx{2,3,4}/)",
}


def _dataset_configs(dataset, key):
    """Yield ``(key, cfg)`` for a dataset config and the ones it wraps
    (``RepeatDataset.dataset``, ``ConcatDataset.datasets``, ...)."""
    if not dataset:
        return
    yield key, dataset
    yield from _dataset_configs(dataset.get('dataset'), f'{key}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _dataset_configs(inner, f'{key}.datasets.{i}')


def check_data_roots(cfg):
    """Fail early, and say how to fix it, when a data root is missing."""
    for split in ('train', 'val', 'test'):
        loaders = cfg.get(f'{split}_dataloader')
        # mmagic's MultiValLoop/MultiTestLoop take a list of loaders.
        if not isinstance(loaders, (list, tuple)):
            loaders = [loaders]
        for n, loader in enumerate(loaders):
            _check_loader_roots(
                loader, split, f'{split}_dataloader' +
                (f'.{n}' if len(loaders) > 1 else ''))


def _check_loader_roots(loader, split, where):
    for key, dataset in _dataset_configs(
            loader.get('dataset') if loader else None, f'{where}.dataset'):
        root = dataset.get('data_root')
        if root and not osp.isdir(root):
            name = osp.basename(osp.normpath(root))
            hint = DATA_HINTS.get(name)
            layout = LAYOUT_HINTS.get(name, 'its standard layout')
            fix = f'run `{hint} --out {root}`' if hint else (
                f'put the data set there in {layout} (see README, '
                f'"Configs"), or pass --cfg-options {key}.data_root=PATH')
            raise FileNotFoundError(
                f'data root {root!r} of {split}_dataloader does not '
                f'exist: {fix}.')


def check_load_from(cfg):
    """Fail early when ``load_from`` (e.g. the x2 model an SR x3/x4 config
    starts from) is missing."""
    path = cfg.get('load_from')
    if path and not cfg.get('resume', False) and '://' not in path \
            and not osp.isfile(path):
        raise FileNotFoundError(
            f'load_from={path!r} does not exist. Train the model it names '
            'first (SR x3/x4 configs start from the x2 one), or pass '
            '--cfg-options load_from=PATH (load_from=None to start from '
            'scratch).')


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_work_dir(cfg)
    check_data_roots(cfg)
    check_load_from(cfg)
    use_local_ddp(cfg)
    with cpu_distributed(cfg):
        runner = Runner.from_cfg(cfg)
        runner.train()


if __name__ == '__main__':
    main()
