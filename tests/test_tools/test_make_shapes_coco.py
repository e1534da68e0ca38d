"""The synthetic shapes detection data: COCO format, determinism, and mmdet.

A tiny set (6 train / 3 val images at 64 px) is checked with pycocotools,
loaded by mmdet's ``CocoDataset`` through the base config's pipelines, and
scored by mmdet's ``CocoMetric`` on perfect predictions (mAP must be 1).
"""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/_base_/datasets/shapes_coco_detection.py')
CLASSES = ('circle', 'square', 'triangle')
SIZE = 64
NUM = dict(train=6, val=3)


def _load_tool():
    return load_tool('dataset_converters/make_shapes_coco.py')


def _make(out):
    return _load_tool().make_shapes_coco(
        str(out), num_train=NUM['train'], num_val=NUM['val'],
        image_size=SIZE, seed=0)


def _ann_file(root, split):
    return osp.join(root, 'annotations', f'instances_{split}.json')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    out = tmp_path_factory.mktemp('data') / 'shapes_coco'
    counts = _make(out)
    assert {s: c['images'] for s, c in counts.items()} == NUM
    return str(out), counts


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_format(shapes, split):
    from pycocotools.coco import COCO
    root, counts = shapes
    coco = COCO(_ann_file(root, split))
    cats = coco.loadCats(coco.getCatIds())
    assert [(c['id'], c['name']) for c in cats] == [(1, 'circle'),
                                                    (2, 'square'),
                                                    (3, 'triangle')]
    img_ids = coco.getImgIds()
    assert sorted(img_ids) == list(range(1, NUM[split] + 1))
    ann_ids = coco.getAnnIds()
    assert sorted(ann_ids) == list(range(1, len(ann_ids) + 1))
    assert len(ann_ids) == counts[split]['annotations']
    for img_id in img_ids:
        info = coco.loadImgs(img_id)[0]
        w_img, h_img = info['width'], info['height']
        path = osp.join(root, split, info['file_name'])
        assert Image.open(path).size == (w_img, h_img) == (SIZE, SIZE)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert 1 <= len(anns) <= 4
        for ann in anns:
            x, y, w, h = ann['bbox']
            assert ann['category_id'] in (1, 2, 3) and ann['iscrowd'] == 0
            assert w > 0 and h > 0 and 0 < ann['area'] <= w * h
            assert x >= 0 and y >= 0 and x + w <= w_img and y + h <= h_img
            name = CLASSES[ann['category_id'] - 1]
            if name == 'square':  # the box is the square itself: tight
                assert w == h and ann['area'] == w * h
            elif name == 'circle':
                assert w == h and 0.6 < ann['area'] / (w * h) < 0.9


def test_deterministic_and_idempotent(shapes, tmp_path):
    root, counts = shapes
    again = tmp_path / 'again'
    assert _make(again) == counts
    for split in ('train', 'val'):
        with open(_ann_file(root, split), 'rb') as a, \
                open(_ann_file(again, split), 'rb') as b:
            assert a.read() == b.read()
        for name in sorted(os.listdir(osp.join(root, split))):
            with open(osp.join(root, split, name), 'rb') as a, \
                    open(osp.join(again, split, name), 'rb') as b:
                assert a.read() == b.read(), name
    # Same parameters: nothing is rewritten.
    stamp = os.stat(_ann_file(again, 'val')).st_mtime_ns
    assert _make(again) == counts
    assert os.stat(_ann_file(again, 'val')).st_mtime_ns == stamp
    # Other parameters: the set is regenerated.
    tool = _load_tool()
    other = tool.make_shapes_coco(str(again), num_train=2, num_val=1,
                                  image_size=SIZE, seed=1)
    assert other['train']['images'] == 2
    assert sorted(os.listdir(again / 'train')) == ['000000.png', '000001.png']
    with open(_ann_file(again, 'val')) as f:
        assert len(json.load(f)['images']) == 1


def test_mmdet_dataset_and_perfect_metric(shapes):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import DATASETS
    from pycocotools.coco import COCO

    root, _ = shapes
    cfg = Config.fromfile(CONFIG)
    assert cfg.metainfo.classes == CLASSES

    # The train set through the config's train pipeline.
    train_cfg = cfg.train_dataloader.dataset.copy()
    train_cfg.data_root = root
    train_set = DATASETS.build(train_cfg)
    assert len(train_set) == NUM['train']
    assert train_set[0]['inputs'].shape == (3, 128, 128)

    # The val set: boxes in original-image coordinates, as annotated.
    val_set = CocoDataset(
        data_root=root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        metainfo=cfg.metainfo,
        test_mode=True,
        pipeline=cfg.test_pipeline)
    assert val_set.metainfo['classes'] == CLASSES
    assert len(val_set) == NUM['val']
    coco = COCO(_ann_file(root, 'val'))
    predictions = []
    for i in range(len(val_set)):
        sample = val_set[i]['data_samples']
        assert sample.ori_shape == (SIZE, SIZE)
        assert sample.img_shape == (128, 128)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=sample.img_id))
        expected = np.array([[x, y, x + w, y + h]
                             for x, y, w, h in (a['bbox'] for a in anns)])
        gt = sample.gt_instances
        boxes = getattr(gt.bboxes, 'tensor', gt.bboxes)  # HorizontalBoxes
        np.testing.assert_allclose(boxes.numpy(), expected)
        assert gt.labels.tolist() == [a['category_id'] - 1 for a in anns]
        predictions.append(
            dict(
                img_id=sample.img_id,
                ori_shape=sample.ori_shape,
                pred_instances=dict(
                    bboxes=boxes.float(),
                    scores=torch.ones(len(gt.labels)),
                    labels=gt.labels)))

    metric = CocoMetric(
        ann_file=_ann_file(root, 'val'), metric='bbox', format_only=False)
    metric.dataset_meta = val_set.metainfo
    metric.process(data_batch={}, data_samples=predictions)
    results = metric.evaluate(size=len(val_set))
    assert results['coco/bbox_mAP'] >= 0.99
