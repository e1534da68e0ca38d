"""Every shipped config builds as mmengine's Runner builds it (no weights
loaded, no data read): its model, its train loop, and -- for a local
config -- the same input normalisation as its BP twin."""
import copy
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import LOOPS, MODELS, init_default_scope
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner
from torch.utils.data import DataLoader

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
    # ViT: one module per encoder layer; MobileNetV2: one per block
    'vit-t_digits_man.py': 6,
    'mobilenet-v2-w05_digits_man.py': 17,
    # AugLocal's K=16: 16 - depth 2 modules
    'resnet32_digits_auglocal_k16.py': 14,
    'resnet32_cifar10_auglocal_k16.py': 14,
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
    'convnext-d2w32_digits_man.py': 8,
    'swin-d2w32_digits_man.py': 8,
    # EDSR: one module per residual block (conv_first joins the first)
    'edsr_x2c64b16_div2k_man.py': 16,
    'edsr_x3c64b16_div2k_man.py': 16,
    'edsr_x4c64b16_div2k_man.py': 16,
    'edsr_x2c64b16_div2k_man_noadapt.py': 16,
    'edsr_x2c256b32_div2k_man.py': 32,
    'edsr_x2c32b8_photos_man.py': 8,
    'edsr_x2c32b8_photos_man_noadapt.py': 8,
    # SRGAN's MSRResNet: 8 residual blocks in 4 modules
    'srgan_x2c32b8_photos_man.py': 4,
}


def test_every_config_is_found():
    assert len(CONFIGS) > 30


LOCAL = re.compile(r'_(man|dgl|infopro|auglocal|predsim)[a-z0-9_]*\.py$')


def bp_twin(path):
    """The BP config a local config is compared with."""
    return LOCAL.sub('_bp.py', path)


def runner_of(path, tmp_path):
    """The Runner a user's ``tools/train.py`` run would build (models built
    with the top-level data_preprocessor merged in, as the Runner does)."""
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path / osp.basename(path)[:-3])
    cfg.experiment_name = osp.basename(path)[:-3]
    cfg.launcher = 'none'
    cfg.load_from = None  # SR x3/x4 configs start from an x2 checkpoint
    return cfg, Runner.from_cfg(cfg)


def preprocessor_state(model):
    pre = model.data_preprocessor
    simple = {k: v for k, v in vars(pre).items()
              if isinstance(v, (bool, int, float, str, tuple))}
    buffers = {k: v.tolist() for k, v in pre.named_buffers()}
    return type(pre).__name__, simple, buffers


def build_train_loop(runner, cfg):
    """The config's train loop, as ``Runner.build_train_loop`` builds it,
    on a 4-batch stand-in for the data loader (data sets are not read)."""
    loop_cfg = copy.deepcopy(cfg.train_cfg)
    if 'type' in loop_cfg and 'by_epoch' in loop_cfg:
        raise RuntimeError('Only one of `type` or `by_epoch` can exist in '
                           '`loop_cfg`.')  # mmengine's own check
    loader = DataLoader(list(range(4)), batch_size=1)
    if 'type' in loop_cfg:
        return LOOPS.build(loop_cfg,
                           default_args=dict(runner=runner,
                                             dataloader=loader))
    by_epoch = loop_cfg.pop('by_epoch')
    loop = EpochBasedTrainLoop if by_epoch else IterBasedTrainLoop
    return loop(runner=runner, dataloader=loader, **loop_cfg)


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds_as_the_runner_builds_it(path, tmp_path):
    cfg, runner = runner_of(path, tmp_path)
    model = runner.model
    name = osp.basename(path)
    if name in EXPECTED_K:
        assert model.num_modules == EXPECTED_K[name]
    local = LOCAL.search(name) is not None
    if local:
        assert type(model).__name__ == 'LocalLearningModel'
        assert any(h['type'] == 'man_mm.FeatureBankHook'
                   for h in cfg.custom_hooks)
        assert cfg.train_cfg.type.startswith('man_mm.')
        # Trained and evaluated exactly as its BP twin normalises inputs.
        twin_cfg, twin = runner_of(bp_twin(path), tmp_path)
        assert type(twin.model).__name__ != 'LocalLearningModel'
        assert preprocessor_state(model) == preprocessor_state(twin.model)
        assert preprocessor_state(model.model) == \
            preprocessor_state(twin.model)
    build_train_loop(runner, cfg)
    for key in ('val_cfg', 'test_cfg'):
        loop = cfg.get(key) or {}
        assert not ('type' in loop and 'by_epoch' in loop), key
    for key in ('train_dataloader', 'val_dataloader'):
        assert cfg[key]['dataset'], key


def test_mmpretrain_man_configs_normalise_as_imagenet():
    """The ImageNet MAN config keeps mmpretrain's mean/std and to_rgb."""
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/classification/resnet50_in1k_man_k16.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    init_default_scope('mmpretrain')
    pre = MODELS.build(model_cfg).data_preprocessor
    assert pre._enable_normalize and pre.to_rgb
    assert pre.mean.flatten().tolist() == pytest.approx(
        [123.675, 116.28, 103.53])
