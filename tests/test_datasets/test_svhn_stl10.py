"""Tests for the SVHN and STL-10 datasets on tiny files in official format."""
import numpy as np
import pytest
from scipy.io import savemat

from man_mm.datasets import STL10, SVHN

PIPELINE = [dict(type='PackInputs')]
STL_CLASSES = ('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse',
               'monkey', 'ship', 'truck')


def _write_svhn(root, split, labels):
    """Write ``{split}_32x32.mat`` like the official Format-2 files."""
    n = len(labels)
    x = np.zeros((32, 32, 3, n), dtype=np.uint8)
    for i in range(n):
        x[3, 7, 1, i] = 100 + i  # row 3, col 7, green of image i
        x[31, 0, 2, i] = 200  # bottom-left blue
    y = np.asarray(labels, dtype=np.uint8).reshape(n, 1)
    savemat(str(root / f'{split}_32x32.mat'), {'X': x, 'y': y})


def _write_stl10(root, split, labels):
    """Write ``stl10_binary/{split}_{X,y}.bin`` byte by byte, column-major."""
    folder = root / 'stl10_binary'
    folder.mkdir(parents=True, exist_ok=True)
    n, s = len(labels), 96
    flat = np.zeros(n * 3 * s * s, dtype=np.uint8)

    def offset(i, row, col, ch):  # column-major within each channel plane
        return i * 3 * s * s + ch * s * s + col * s + row

    for i in range(n):
        flat[offset(i, 2, 9, 0)] = 50 + i  # row 2, col 9, red of image i
        flat[offset(i, 95, 0, 1)] = 250  # bottom-left green
    flat.tofile(str(folder / f'{split}_X.bin'))
    np.asarray(labels, dtype=np.uint8).tofile(str(folder / f'{split}_y.bin'))


def test_svhn_roundtrip(tmp_path):
    labels = [1, 10, 5, 10, 9]
    _write_svhn(tmp_path, 'train', labels)
    ds = SVHN(data_root=str(tmp_path), split='train', pipeline=PIPELINE)
    assert len(ds) == 5
    assert ds.metainfo['classes'] == tuple(str(i) for i in range(10))
    assert ds.get_gt_labels().tolist() == [1, 0, 5, 0, 9]

    info = ds.get_data_info(2)
    assert info['img'].shape == (32, 32, 3)
    assert info['img'].dtype == np.uint8
    assert info['img'][3, 7, 1] == 102
    assert info['img'][31, 0, 2] == 200
    assert info['img'].sum() == 102 + 200

    out = ds[1]
    assert tuple(out['inputs'].shape) == (3, 32, 32)
    assert out['inputs'][1, 3, 7].item() == 101
    assert out['inputs'][2, 31, 0].item() == 200
    assert out['data_samples'].gt_label.tolist() == [0]


def test_svhn_splits_and_missing(tmp_path):
    _write_svhn(tmp_path, 'test', [3, 10])
    ds = SVHN(data_root=str(tmp_path), split='test', pipeline=PIPELINE)
    assert len(ds) == 2 and ds.get_gt_labels().tolist() == [3, 0]

    with pytest.raises(FileNotFoundError, match='train_32x32.mat'):
        SVHN(data_root=str(tmp_path), split='train')
    with pytest.raises(FileNotFoundError, match='extra_32x32.mat'):
        SVHN(data_root=str(tmp_path), split='extra')
    with pytest.raises(AssertionError):
        SVHN(data_root=str(tmp_path), split='val')


def test_stl10_roundtrip(tmp_path):
    labels = list(range(1, 11)) + [10]
    _write_stl10(tmp_path, 'test', labels)
    ds = STL10(data_root=str(tmp_path), split='test', pipeline=PIPELINE)
    assert len(ds) == 11
    assert ds.metainfo['classes'] == STL_CLASSES
    assert ds.get_gt_labels().tolist() == list(range(10)) + [9]

    info = ds.get_data_info(4)
    assert info['img'].shape == (96, 96, 3)
    assert info['img'].dtype == np.uint8
    assert info['img'][2, 9, 0] == 54
    assert info['img'][95, 0, 1] == 250
    assert info['img'].sum() == 54 + 250

    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 96, 96)
    assert out['inputs'][0, 2, 9].item() == 50
    assert out['inputs'][1, 95, 0].item() == 250
    assert out['data_samples'].gt_label.tolist() == [0]


def test_stl10_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='train_X.bin'):
        STL10(data_root=str(tmp_path), split='train')
    # images present, labels missing
    _write_stl10(tmp_path, 'train', [1, 2])
    (tmp_path / 'stl10_binary' / 'train_y.bin').unlink()
    with pytest.raises(FileNotFoundError, match='train_y.bin'):
        STL10(data_root=str(tmp_path), split='train')


def test_build_from_registries(tmp_path):
    from mmengine.registry import DATASETS as ENGINE_DATASETS
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS as PRETRAIN_DATASETS

    _write_svhn(tmp_path, 'test', [10, 4])
    _write_stl10(tmp_path, 'test', [2])

    # Scoped names resolve from mmpretrain's registry without a default scope.
    ds = PRETRAIN_DATASETS.build(
        dict(
            type='man_mm.SVHN',
            data_root=str(tmp_path),
            split='test',
            pipeline=PIPELINE))
    assert isinstance(ds, SVHN)
    assert ds[0]['data_samples'].gt_label.tolist() == [0]

    ds = PRETRAIN_DATASETS.build(
        dict(
            type='man_mm.STL10',
            data_root=str(tmp_path),
            split='test',
            pipeline=PIPELINE))
    assert isinstance(ds, STL10)
    assert ds[0]['data_samples'].gt_label.tolist() == [1]

    # Unscoped names resolve under default_scope='man_mm' (as in a Runner).
    with DefaultScope.overwrite_default_scope('man_mm'):
        ds = ENGINE_DATASETS.build(
            dict(
                type='SVHN',
                data_root=str(tmp_path),
                split='test',
                pipeline=PIPELINE))
    assert isinstance(ds, SVHN) and len(ds) == 2


@pytest.mark.parametrize('cfg_name, cls', [('svhn_bs1024', 'man_mm.SVHN'),
                                           ('stl10_bs128', 'man_mm.STL10')])
def test_dataset_configs(cfg_name, cls):
    import os.path as osp

    from mmengine import Config

    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(root, 'configs', '_base_', 'datasets', f'{cfg_name}.py'))
    assert cfg.train_dataloader.dataset.type == cls
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.data_preprocessor.num_classes == 10
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, ))
