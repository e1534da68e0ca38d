"""The checks tools/train.py and tools/test.py run before the Runner."""
import os.path as osp

import pytest
from mmengine.config import Config

from man_mm.engine.config_checks import (check_data_roots, check_loop_cfgs,
                                         check_work_dir)
from tests.helpers import ROOT


def _digits_cfg(root):
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/classification/resnet32_digits_man_k16.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root
    return cfg


def test_missing_embedded_data_is_written(tmp_path):
    root = str(tmp_path / 'data' / 'digits')
    check_data_roots(_digits_cfg(root))
    assert osp.isdir(osp.join(root, 'train'))
    assert osp.isdir(osp.join(root, 'val'))


def test_missing_embedded_data_named_when_not_written(tmp_path):
    root = str(tmp_path / 'digits')
    with pytest.raises(FileNotFoundError,
                       match='prepare_digits.py --out .*digits'):
        check_data_roots(_digits_cfg(root), write_embedded=False)
    assert not osp.exists(root)


def test_loop_type_beside_by_epoch_names_delete():
    cfg = Config(dict(train_cfg=dict(
        type='man_mm.LocalEpochBasedTrainLoop', by_epoch=True,
        max_epochs=3)))
    with pytest.raises(ValueError, match='_delete_=True'):
        check_loop_cfgs(cfg)


def test_earlier_checkpoints_are_kept(tmp_path):
    (tmp_path / 'epoch_3.pth').write_bytes(b'')
    cfg = Config(dict(work_dir=str(tmp_path)))
    with pytest.raises(FileExistsError, match='--resume'):
        check_work_dir(cfg)
    cfg.resume = True
    check_work_dir(cfg)
