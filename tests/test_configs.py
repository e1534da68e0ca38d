"""Every shipped config parses and builds its model (no weights loaded)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)

# Effective K of the paper's default splits (one module per trainable unit).
EXPECTED_K = {
    'resnet32_cifar10_man_k16.py': 16,
    'resnet32_cifar10_man_k8.py': 8,
    'resnet32_digits_man_k16.py': 16,
    'resnet50_in1k_man_k16.py': 16,
    # mmdet freezes stem+layer1 (3 units): 16 -> 13, 33 -> 30, 50 -> 47
    'retinanet_r34_fpn_160e_coco_man.py': 13,
    'retinanet_r34_fpn_160e_coco_man_k4.py': 4,
    'retinanet_r50_fpn_160e_coco_man.py': 13,
    'retinanet_r101_fpn_160e_coco_man.py': 30,
    'retinanet_r152_fpn_160e_coco_man.py': 47,
    'yolov3_r101_160e_coco_man.py': 30,
    'yolov3_r34_160e_coco_man.py': 13,
    'yolov3_r34_160e_voc0712_man.py': 13,
    'retinanet_r18_fpn_shapes_man.py': 4,
    # Darknet-53: one unit per residual block; Faster R-CNN: 16 - 3 frozen
    'yolov3_d53_8xb8-320-273e_coco_man.py': 23,
    'faster-rcnn_r50_fpn_1x_coco_man.py': 13,
    # ConvNeXt-T (3+3+9+3 blocks) and Swin-T (2+2+6+2 blocks)
    'convnext-tiny_32xb128_in1k_man.py': 18,
    'swin-tiny_16xb64_in1k_man.py': 12,
    # EDSR: one module per residual block (conv_first joins the first)
    'edsr_x2c64b16_div2k_man.py': 16,
    'edsr_x3c64b16_div2k_man.py': 16,
    'edsr_x4c64b16_div2k_man.py': 16,
    'edsr_x2c64b16_div2k_man_noadapt.py': 16,
    'edsr_x2c256b32_div2k_man.py': 32,
    'edsr_x2c32b8_photos_man.py': 8,
    'edsr_x2c32b8_photos_man_noadapt.py': 8,
}


def test_every_config_is_found():
    assert len(CONFIGS) > 30


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model = MODELS.build(cfg.model)
    name = osp.basename(path)
    if name in EXPECTED_K:
        assert model.num_modules == EXPECTED_K[name]
    if '_man' in name or '_dgl' in name:
        assert type(model).__name__ == 'LocalLearningModel'
        assert any(h['type'] == 'man_mm.FeatureBankHook'
                   for h in cfg.custom_hooks)
        assert cfg.train_cfg.type.startswith('man_mm.')
    for key in ('train_dataloader', 'val_dataloader'):
        assert cfg[key]['dataset'], key
