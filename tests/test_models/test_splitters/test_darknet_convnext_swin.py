"""Darknet, ConvNeXt, Swin, ViT and EfficientNet/MobileNetV2 splitters: units replay the backbone exactly;
SLM blocks finish the network; unsupported models fail with a useful
message."""
import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.models.splitters import (ConvNeXtUnits, DarknetUnits,
                                     StageListUnits, SwinUnits, ViTUnits)
from man_mm.models.splitters import build_units
from man_mm.models.task_adapters import build_task_adapter

CONVNEXT = dict(type='ConvNeXt',
                arch=dict(depths=[2, 2, 3, 1], channels=[8, 16, 32, 64]))
SWIN = dict(type='SwinTransformer',
            arch=dict(embed_dims=16, depths=[2, 2, 3, 1],
                      num_heads=[1, 2, 4, 8]),
            img_size=64, window_size=2)
VIT = dict(type='VisionTransformer',
           arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                     feedforward_channels=64),
           img_size=32, patch_size=8)

# (scope, backbone config, splitter, units, input size)
CASES = {
    'darknet53': ('mmdet', dict(type='Darknet', depth=53), DarknetUnits, 23,
                  64),
    'darknet53_stem_unit': ('mmdet', dict(type='Darknet', depth=53),
                            DarknetUnits, 24, 64),
    'convnext': ('mmpretrain', CONVNEXT, ConvNeXtUnits, 8, 64),
    'convnext_no_gap': ('mmpretrain',
                        dict(CONVNEXT, gap_before_final_norm=False),
                        ConvNeXtUnits, 8, 64),
    'swin': ('mmpretrain', SWIN, SwinUnits, 8, 64),
    'swin_abs_pos': ('mmpretrain', dict(SWIN, use_abs_pos_embed=True),
                     SwinUnits, 8, 64),
    'vit': ('mmpretrain', VIT, ViTUnits, 4, 32),
    'efficientnet_b0': ('mmpretrain', dict(type='EfficientNet', arch='b0'),
                        StageListUnits, 16, 64),
    'efficientnetv2_b0': ('mmpretrain',
                          dict(type='EfficientNetV2', arch='b0'),
                          StageListUnits, 21, 64),
    'mobilenetv2': ('mmpretrain',
                    dict(type='MobileNetV2', widen_factor=0.25),
                    StageListUnits, 17, 64),
    'vit_stem_unit': ('mmpretrain', VIT, ViTUnits, 5, 32),
    'vit_avg_featmap': ('mmpretrain', dict(VIT, out_type='avg_featmap'),
                        ViTUnits, 4, 32),
    'vit_no_cls_token_raw': ('mmpretrain',
                             dict(VIT, with_cls_token=False, out_type='raw'),
                             ViTUnits, 4, 32),
}


def _split(name):
    scope, cfg, cls, n, size = CASES[name]
    init_default_scope(scope)
    backbone = MODELS.build(cfg)
    backbone.eval()
    units = build_units(backbone, stem_as_unit='stem_unit' in name or None)
    assert isinstance(units, cls)
    assert len(units) == n
    return backbone, units, size


@pytest.mark.parametrize('name', list(CASES))
def test_units_replay_the_backbone_forward(name):
    backbone, units, size = _split(name)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        outs, y = {}, x
        for u in units.units:
            y = u.module(y)
            if u.is_stage_end:
                # A ViT's one stage ends at its last layer (its out index).
                outs[backbone.out_indices[-1]
                     if isinstance(units, (ViTUnits, StageListUnits))
                     else u.stage] = y
        expected = backbone(x)
    assert len(expected) == len(backbone.out_indices)
    for i, out in zip(backbone.out_indices, expected):
        torch.testing.assert_close(outs[i], out, atol=0, rtol=0)
    # Units hold the backbone's own parameters, not copies.
    own = {id(p) for p in backbone.parameters()}
    assert all(id(p) in own for u in units.units
               for p in u.module.parameters())
    assert sum(sum(p.numel() for p in u.module.parameters())
               for u in units.units) == sum(
                   p.numel() for p in backbone.parameters())


@pytest.mark.parametrize('name', ['darknet53', 'convnext', 'swin', 'vit',
                                  'efficientnet_b0', 'mobilenetv2'])
def test_fresh_blocks_finish_the_network_with_new_weights(name):
    backbone, units, size = _split(name)
    x = torch.randn(1, 3, size, size)
    own = {id(p) for p in backbone.parameters()}
    with torch.no_grad():
        expected = backbone(x)[-1].shape
        for i, unit in enumerate(units.units[:-1]):
            x = unit.module(x)
            blocks = units.fresh_blocks_after(unit)
            # Rest of the stage (if any) + one per later stage (+ the final
            # norm for the classifiers).
            later = units.num_stages - 1 - max(unit.stage, 0)
            extra = int(not unit.is_stage_end) + \
                int(not isinstance(units, DarknetUnits))
            assert len(blocks) == later + extra, unit.name
            assert blocks(x).shape == expected, unit.name
            assert not any(id(p) in own for p in blocks.parameters())
    if isinstance(units, ConvNeXtUnits):
        block = units.fresh_blocks_after(units.units[0])[0]
        assert torch.all(block.gamma == 1e-6)


def test_darknet_stages_are_its_out_indices():
    backbone, units, _ = _split('darknet53')
    ends = {u.stage: u.name for u in units.units if u.is_stage_end}
    assert ends[3] == 'conv_res_block3.res7'
    assert ends[5] == 'conv_res_block5.res3'
    assert units.stage_out_channels(3) == 256
    assert units.units[0].name == 'conv1+conv_res_block1.conv+res0'


@pytest.mark.parametrize('cfg', [
    dict(CONVNEXT, out_indices=(1, 3)),
    dict(SWIN, out_indices=(2, 3)),
    dict(VIT, out_indices=(1, 3)),
    dict(VIT, out_type='featmap'),
    dict(type='EfficientNet', arch='b0', out_indices=(3, 6)),
])
def test_multi_stage_outputs_are_refused(cfg):
    init_default_scope('mmpretrain')
    with pytest.raises(ValueError, match='out_indices'):
        build_units(MODELS.build(cfg))


def test_vits_with_their_own_forward_are_refused_with_the_reason():
    init_default_scope('mmpretrain')
    deit = MODELS.build(dict(VIT, type='DistilledVisionTransformer'))
    with pytest.raises(ValueError, match='has its own forward'):
        build_units(deit)


def test_unsupported_backbone_names_the_supported_ones_and_how_to_add():
    init_default_scope('mmpretrain')
    backbone = MODELS.build(dict(type='HiViT', arch='tiny'))
    with pytest.raises(TypeError) as e:
        build_units(backbone)
    msg = str(e.value)
    for name in ('HiViT', 'mmdet.Darknet', 'mmpretrain.ConvNeXt',
                 'mmpretrain.SwinTransformer', 'mmpretrain.ResNet',
                 'UNIT_SPLITTERS', 'own_model.md'):
        assert name in msg


def test_unsupported_detector_names_the_supported_adapters():
    init_default_scope('mmdet')
    from tests.helpers import retinanet
    model = MODELS.build(retinanet())
    model.__class__ = type('MyDetector', (torch.nn.Module, ), {})
    with pytest.raises(TypeError) as e:
        build_task_adapter(model)
    msg = str(e.value)
    for name in ('MyDetector', 'two-stage', 'single-stage',
                 'TASK_ADAPTERS'):
        assert name in msg


def test_faster_rcnn_uses_the_two_stage_adapter_and_the_local_fpn():
    from tests.helpers import faster_rcnn_r18
    init_default_scope('mmdet')
    model = LocalLearningModel(faster_rcnn_r18(), num_modules=3)
    assert type(model.task).__name__ == 'TwoStageTaskAdapter'
    assert [h is m for h, m in zip(
        model.aux_heads[0].heads,
        (model.model.neck, model.model.rpn_head, model.model.roi_head))] \
        == [True] * 3
    # Faster R-CNN's FPN reads C2..C5: the bank keeps them all.
    assert model.task.neck_stages == (0, 1, 2, 3)
