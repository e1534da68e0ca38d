"""Checks ``tools/train.py`` and ``tools/test.py`` run on a config before
building the Runner: each names the problem and the fix, instead of the
error a user would meet deep inside mmengine (or a run that silently
overwrites an earlier one)."""
import glob
import os.path as osp
import subprocess
import sys

from mmengine.logging import print_log

from man_mm.utils import tools_dir

# Embedded data sets: the converter that writes each (no download).
EMBEDDED_DATA = {
    'digits': 'prepare_digits.py',
    'shapes_coco': 'make_shapes_coco.py',
    'sr_photos': 'prepare_sr_photos.py',
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


def check_work_dir(cfg) -> None:
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


def check_loop_cfgs(cfg) -> None:
    """A loop ``type`` merged onto a base's ``by_epoch`` cannot be built."""
    for key in ('train_cfg', 'val_cfg', 'test_cfg'):
        loop = cfg.get(key)
        if loop and 'type' in loop and 'by_epoch' in loop:
            raise ValueError(
                f'{key} holds both type={loop["type"]!r} and by_epoch='
                f'{loop["by_epoch"]} (a loop type merged onto a base config '
                "such as mmpretrain's, which writes train_cfg=dict("
                'by_epoch=True, ...)); mmengine accepts only one. Replace '
                f"the base's loop config whole: {key} = dict(_delete_=True, "
                f"type={loop['type']!r}, max_epochs=..., val_interval=...).")


def check_optim_wrapper(cfg) -> None:
    """A ``LocalLearningModel`` trained with one optimizer per network
    (mmagic's GAN restorers) must name the modules each one takes: the
    aux nets are no part of the base model, and mmagic's
    ``MultiOptimWrapperConstructor`` would otherwise find no ``generator``
    on the wrapper and build an optimizer without parameters."""
    model, optim = cfg.get('model') or {}, cfg.get('optim_wrapper') or {}
    if 'LocalLearningModel' not in str(model.get('type', '')) or \
            'MultiOptimWrapperConstructor' not in str(
                optim.get('constructor', '')):
        return
    unnamed = sorted(k for k, v in optim.items()
                     if isinstance(v, dict) and 'optimizer' in v and
                     'modules' not in v)
    if unnamed:
        raise ValueError(
            f'optim_wrapper {unnamed} of a LocalLearningModel name no '
            'modules, so they would get no parameters (the networks are '
            "the base model's, under model.*, and the aux nets are "
            "aux_heads). Add: optim_wrapper = dict(generator=dict(modules="
            "['model.generator', 'aux_heads']), discriminator=dict("
            "modules='model.discriminator')).")


def _dataset_configs(dataset, key):
    """Yield ``(key, cfg)`` for a dataset config and the ones it wraps
    (``RepeatDataset.dataset``, ``ConcatDataset.datasets``, ...)."""
    if not dataset:
        return
    yield key, dataset
    yield from _dataset_configs(dataset.get('dataset'), f'{key}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _dataset_configs(inner, f'{key}.datasets.{i}')


def check_data_roots(cfg, write_embedded: bool = True) -> None:
    """Fail early, and say how to fix it, when a data root is missing.

    A missing root of an embedded data set (``data/digits``,
    ``data/shapes_coco``, ``data/sr_photos``) is written there by its
    converter when ``write_embedded`` (they are generated locally, from
    data that installed packages ship).
    """
    for split in ('train', 'val', 'test'):
        loaders = cfg.get(f'{split}_dataloader')
        # mmagic's MultiValLoop/MultiTestLoop take a list of loaders.
        if not isinstance(loaders, (list, tuple)):
            loaders = [loaders]
        for n, loader in enumerate(loaders):
            where = f'{split}_dataloader' + (f'.{n}'
                                             if len(loaders) > 1 else '')
            for key, dataset in _dataset_configs(
                    loader.get('dataset') if loader else None,
                    f'{where}.dataset'):
                _check_root(dataset.get('data_root'), key, split,
                            write_embedded)


def _check_root(root, key, split, write_embedded):
    if not root or osp.isdir(root):
        return
    name = osp.basename(osp.normpath(root))
    converter = EMBEDDED_DATA.get(name)
    if converter is not None:
        command = [sys.executable,
                   osp.join(tools_dir(), 'dataset_converters', converter),
                   '--out', root]
        if write_embedded:
            print_log(
                f'data root {root!r} does not exist: writing the embedded '
                f'{name} data set there ({" ".join(command[1:])}).',
                logger='current')
            subprocess.run(command, check=True)
            return
        fix = f'run `python {" ".join(command[1:])}`'
    else:
        layout = LAYOUT_HINTS.get(name, 'its standard layout')
        fix = (f'put the data set there in {layout} (see the data '
               f'section of the docs), or pass --cfg-options '
               f'{key}.data_root=PATH')
    raise FileNotFoundError(
        f'data root {root!r} of {split}_dataloader does not exist: {fix}.')


def check_load_from(cfg) -> None:
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
