"""MAN on the backbones and detectors beyond ResNet/RetinaNet: YOLOv3 on
Darknet-53, Faster R-CNN (two-stage), ConvNeXt, Swin, ViT and MobileNetV2
classifiers.

Each kind is checked the same way (parametrised): gradient isolation, K=1
is BP, local training keeps fewer activations than BP, and the checkpoint
stripped of aux nets loads into the plain model and predicts the same.
"""
import copy

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.models.local_learning import local_steps
from man_mm.utils import ActivationMemoryMeter
from tests.helpers import (fake_batch, faster_rcnn_r18, load_tool,
                           sgd_wrapper, yolov3_r34)


def yolov3_d53():
    """mmdet's YOLOv3-D53 with a narrow neck and head (the backbone is the
    real Darknet-53: its depth is fixed)."""
    from mmengine.config import ConfigDict

    cfg = yolov3_r34()
    cfg['backbone'] = dict(type='Darknet', depth=53, out_indices=(3, 4, 5))
    cfg['neck']['in_channels'] = [1024, 512, 256]
    return ConfigDict(cfg)  # mmdet reads test_cfg.nms_pre as an attribute


def classifier(backbone, channels, neck=True):
    return dict(
        type='ImageClassifier', backbone=backbone,
        neck=dict(type='GlobalAveragePooling') if neck else None,
        head=dict(type='LinearClsHead', num_classes=10,
                  in_channels=channels,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=10))


def convnext_tiny():
    # ConvNeXt's final norm pools globally itself: no neck, as mmpretrain's
    # convnext-tiny config.
    return classifier(
        dict(type='ConvNeXt', arch=dict(depths=[2, 2, 3, 1],
                                        channels=[8, 16, 32, 64])),
        64, neck=False)


def swin_tiny():
    return classifier(
        dict(type='SwinTransformer',
             arch=dict(embed_dims=16, depths=[2, 2, 2, 2],
                       num_heads=[1, 2, 4, 8]),
             img_size=64, window_size=2), 128)


def vit_small():
    # A ViT reads the class token through VisionTransformerClsHead; no neck.
    return dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer',
                      arch=dict(embed_dims=32, num_layers=6, num_heads=2,
                                feedforward_channels=64),
                      img_size=32, patch_size=4),
        head=dict(type='VisionTransformerClsHead', num_classes=10,
                  in_channels=32,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=10))


def mobilenet_v2():
    return classifier(dict(type='MobileNetV2', widen_factor=0.25), 1280)


def det_batch(size):
    def make(seed=0):
        from mmdet.testing import demo_mm_inputs
        torch.manual_seed(seed)
        return demo_mm_inputs(2, [[3, size, size]] * 2, num_items=[3] * 2,
                              num_classes=3)
    return make


def cls_batch(size):
    return lambda seed=0: fake_batch(4, size, seed=seed)


#: name -> (model config, default scope, batch maker, K for the memory test)
KINDS = {
    'yolov3_darknet53': (yolov3_d53, 'mmdet', det_batch(64), 4),
    'faster_rcnn_r18': (faster_rcnn_r18, 'mmdet', det_batch(256), None),
    'convnext': (convnext_tiny, 'mmpretrain', cls_batch(32), None),
    'swin': (swin_tiny, 'mmpretrain', cls_batch(64), None),
    'vit': (vit_small, 'mmpretrain', cls_batch(32), None),
    'mobilenet_v2': (mobilenet_v2, 'mmpretrain', cls_batch(64), None),
}


@pytest.fixture(params=list(KINDS))
def kind(request):
    cfg, scope, batch, k = KINDS[request.param]
    init_default_scope(scope)
    return request.param, cfg(), batch, k


def _ids(module):
    return {id(p) for p in module.parameters()}


def test_gradient_isolation(kind):
    name, cfg, batch, _ = kind
    model = LocalLearningModel(cfg, num_modules=3)
    model.train()
    data = model.data_preprocessor(batch(), True)
    inputs, samples = data['inputs'], data['data_samples']
    shared = set().union(*(_ids(h) for h in model.task.head_modules()))
    steps = local_steps(model, inputs, samples)
    while True:
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        step = next(steps, None)
        if step is None:
            break
        lm = step.module
        model.parse_losses(step.losses)[0].backward()
        own = _ids(lm.body) | _ids(lm.aux) | shared
        for pname, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if id(p) in own:
                assert p.grad is not None, \
                    f'{name}: {pname} got no gradient from module ' \
                    f'{lm.index}'
            else:
                assert p.grad is None, \
                    f'{name}: loss of module {lm.index} leaked into ' \
                    f'{pname}'


def test_k1_reproduces_bp(kind):
    """K=1 is BP: the same parameters after two SGD steps."""
    name, cfg, batch, _ = kind
    torch.manual_seed(0)
    bp = MODELS.build(cfg)
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = sgd_wrapper(bp, 0.01), sgd_wrapper(local, 0.01)
    for step in range(2):
        for model, optim in ((bp, bp_optim), (local, local_optim)):
            torch.manual_seed(step)  # the same RPN/RoI sampling
            model.train_step(batch(step), optim)
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4,
                                   msg=f'{name}: {pname}')


def test_local_peak_is_below_bp(kind):
    name, cfg, batch, k = kind
    peaks = {}
    for key in ('bp', 'local'):
        torch.manual_seed(0)
        model = MODELS.build(copy.deepcopy(cfg)) if key == 'bp' else \
            LocalLearningModel(copy.deepcopy(cfg), num_modules=k)
        with ActivationMemoryMeter.for_model(model) as meter:
            model.train_step(batch(), sgd_wrapper(model, lr=0.0))
        peaks[key] = meter.peak_mib
    assert peaks['local'] < peaks['bp'], (name, peaks)


def test_stripped_checkpoint_predicts_like_the_local_model(kind):
    name, cfg, batch, _ = kind
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = LocalLearningModel(copy.deepcopy(cfg), num_modules=3)
    local.train_step(batch(), sgd_wrapper(local, lr=0.01))
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(copy.deepcopy(cfg))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = batch(1)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    for a, b in zip(ours, theirs):
        if 'pred_instances' in a:
            for key in ('bboxes', 'scores', 'labels'):
                torch.testing.assert_close(a.pred_instances[key],
                                           b.pred_instances[key])
        else:
            torch.testing.assert_close(a.pred_score, b.pred_score)
