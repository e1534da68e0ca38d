"""Splitters of mmdet's dense backbones, in the detectors that use them:
mmdet's Swin (RetinaNet), a dense mmpretrain ConvNeXt (Faster R-CNN),
CSPNeXt (RTMDet), CSPDarknet (YOLOX), SSDVGG, PVTv2 (RetinaNet) and mmdet's
MobileNetV2 (YOLOv3); HRNet is refused with the reason.

Each detector (tiny widths, tiny inputs) is checked the same way: units
replay the backbone's stage outputs exactly, gradient isolation, K=1 is BP,
local training keeps fewer activations than BP, and the checkpoint stripped
of aux nets loads into the plain model and predicts the same.
"""
import copy

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.models.splitters import (ConvNeXtUnits, CSPUnits, DetSwinUnits,
                                     DetMobileNetV2Units, PVTUnits,
                                     SSDVGGUnits, build_units)
from man_mm.testing import assert_gradient_isolated
from man_mm.utils import ActivationMemoryMeter
from tests.helpers import (faster_rcnn_r18, load_tool, retinanet,
                           sgd_wrapper, yolov3_r34)


def _mmdet_config(path):
    import os.path as osp

    import mmdet
    from mmengine.config import Config
    return Config.fromfile(osp.join(osp.dirname(mmdet.__file__),
                                    '.mim/configs', path)).model.to_dict()


def _bn(cfg):
    """SyncBN -> BN everywhere (CPU, one process)."""
    if isinstance(cfg, dict):
        return {k: (dict(type='BN') if k == 'norm_cfg' and
                    v.get('type') == 'SyncBN' else _bn(v))
                for k, v in cfg.items()}
    return cfg


def retinanet_on(backbone, channels):
    """mmdet's RetinaNet with ``backbone``'s three outputs into its FPN."""
    cfg = retinanet(frozen_stages=-1)
    cfg['backbone'] = backbone
    cfg['neck'].update(in_channels=channels, start_level=0)
    return cfg


def retinanet_swin():
    # mmdet's retinanet_swin-t-p4-w7_fpn layout, narrow and shallow.
    return retinanet_on(
        dict(type='SwinTransformer', embed_dims=16, depths=[2, 2, 2, 2],
             num_heads=[1, 2, 4, 8], window_size=2, out_indices=(1, 2, 3),
             init_cfg=None), [32, 64, 128])


def faster_rcnn_convnext():
    # mmdet's mask-rcnn_convnext-t layout: mmpretrain's ConvNeXt, all four
    # stages, no pooling before the output norms.
    from mmengine.config import ConfigDict
    cfg = faster_rcnn_r18().to_dict()
    cfg['backbone'] = dict(
        type='mmpretrain.ConvNeXt',
        arch=dict(depths=[2, 2, 2, 1], channels=[8, 16, 32, 64]),
        out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    cfg['neck']['in_channels'] = [8, 16, 32, 64]
    return ConfigDict(cfg)


def rtmdet_cspnext():
    cfg = _bn(_mmdet_config('rtmdet/rtmdet_tiny_8xb32-300e_coco.py'))
    cfg['use_syncbn'] = False
    cfg['backbone'].update(deepen_factor=0.67, widen_factor=0.125,
                           init_cfg=None)
    cfg['neck'].update(in_channels=[32, 64, 128], out_channels=16)
    cfg['bbox_head'].update(in_channels=16, feat_channels=16,
                            num_classes=3)
    return cfg


def yolox_cspdarknet():
    cfg = _mmdet_config('yolox/yolox_tiny_8xb8-300e_coco.py')
    cfg['data_preprocessor']['batch_augments'] = None
    cfg['backbone'].update(widen_factor=0.125)
    cfg['neck'].update(in_channels=[32, 64, 128], out_channels=16)
    cfg['bbox_head'].update(in_channels=16, feat_channels=16,
                            num_classes=3)
    return cfg


def retinanet_ssdvgg():
    # SSD's VGG-16 (its two outputs, conv4_3 and fc7) into a RetinaNet.
    cfg = retinanet_on(dict(type='SSDVGG', depth=16), [512, 1024])
    cfg['neck'].update(add_extra_convs='on_output', num_outs=5)
    return cfg


def retinanet_pvtv2():
    return retinanet_on(
        dict(type='PyramidVisionTransformerV2', embed_dims=8,
             num_layers=[1, 2, 2, 1], out_indices=(1, 2, 3)),
        [16, 40, 64])


def yolov3_mobilenetv2():
    # mmdet's yolov3_mobilenetv2 layout: conv2 (layer index 7) is unused.
    from mmengine.config import ConfigDict
    cfg = yolov3_r34()
    cfg['backbone'] = dict(type='MobileNetV2', widen_factor=0.25,
                           out_indices=(2, 4, 6))
    cfg['neck']['in_channels'] = [80, 24, 8]
    return ConfigDict(cfg)


def det_batch(size, n=2):
    def make(seed=0, n=n):
        from mmdet.testing import demo_mm_inputs
        torch.manual_seed(seed)
        return demo_mm_inputs(n, [[3, size, size]] * n, num_items=[3] * n,
                              num_classes=3)
    return make


#: name -> (config, splitter, units, batch maker, (K, input size) of the
#: memory test). The memory test's input is larger where the head would
#: otherwise dominate the tiny backbone.
KINDS = {
    'retinanet_swin': (retinanet_swin, DetSwinUnits, 8, det_batch(64),
                       (3, 64)),
    'faster_rcnn_convnext': (faster_rcnn_convnext, ConvNeXtUnits, 7,
                             det_batch(64), (3, 128)),
    'rtmdet_cspnext': (rtmdet_cspnext, CSPUnits, 9, det_batch(64),
                       (3, 64)),
    'yolox_cspdarknet': (yolox_cspdarknet, CSPUnits, 9, det_batch(64),
                         (3, 64)),
    'retinanet_ssdvgg': (retinanet_ssdvgg, SSDVGGUnits, 15, det_batch(64),
                         (3, 64)),
    'retinanet_pvtv2': (retinanet_pvtv2, PVTUnits, 6, det_batch(64),
                        (4, 64)),
    'yolov3_mobilenetv2': (yolov3_mobilenetv2, DetMobileNetV2Units, 17,
                           det_batch(64), (3, 64)),
}


@pytest.fixture(params=list(KINDS))
def kind(request):
    from mmengine.config import ConfigDict
    init_default_scope('mmdet')
    cfg, splitter, n, batch, k = KINDS[request.param]
    # mmdet reads test_cfg.nms_pre and the like as attributes.
    return request.param, ConfigDict(cfg()), splitter, n, batch, k


def test_units_replay_the_backbone_stage_outputs(kind):
    name, cfg, splitter, n, _, _ = kind
    backbone = MODELS.build(cfg).backbone
    backbone.eval()  # some backbones' train() returns None
    units = build_units(backbone)
    assert type(units) is splitter and len(units) == n, name
    layers = getattr(splitter, 'output_layers', None)
    layers = layers(backbone) if layers else {}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs, y = {}, x
        for u in units.units:
            y = u.module(y)
            if u.is_stage_end:
                outs[u.stage] = layers[u.stage](y) if u.stage in layers \
                    else y
        expected = backbone(x)
    for i, out in zip(backbone.out_indices, expected):
        torch.testing.assert_close(outs[i], out, atol=0, rtol=0, msg=name)
        assert units.stage_out_channels(i) == out.shape[1], (name, i)
    # Units own backbone parameters only; with the output layers, all the
    # backbone's parameters that the outputs use.
    own = {id(p) for p in backbone.parameters()}
    in_units = {id(p) for u in units.units for p in u.module.parameters()}
    in_layers = {id(p) for m in layers.values() for p in m.parameters()}
    assert in_units <= own and not in_units & in_layers, name
    # SLM: the rest of the stage (if any) then one per later stage, fresh.
    with torch.no_grad():
        y = x
        for u in units.units[:-1]:
            y = u.module(y)
            blocks = units.fresh_blocks_after(u)
            assert len(blocks) == units.num_stages - 1 - max(u.stage, 0) \
                + int(not u.is_stage_end), (name, u.name)
            assert blocks(y).shape == expected[-1].shape, (name, u.name)
            assert not any(id(p) in own for p in blocks.parameters())


def test_gradient_isolation(kind):
    name, cfg, _, _, batch, _ = kind
    model = LocalLearningModel(cfg, num_modules=3)
    assert_gradient_isolated(model, batch(), shared_head=True)


def test_k1_reproduces_bp(kind):
    """K=1 is BP: the same parameters after two SGD steps."""
    name, cfg, _, _, batch, _ = kind
    torch.manual_seed(0)
    bp = MODELS.build(cfg)
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = sgd_wrapper(bp, 0.01), sgd_wrapper(local, 0.01)
    for step in range(2):
        for model, optim in ((bp, bp_optim), (local, local_optim)):
            torch.manual_seed(step)  # the same sampling
            model.train_step(batch(step), optim)
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4,
                                   msg=f'{name}: {pname}')


def test_local_peak_is_below_bp(kind):
    name, cfg, _, _, _, (k, size) = kind
    batch = det_batch(size)
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
    name, cfg, _, _, batch, _ = kind
    # An untrained head scores everything alike: keep NMS's input short.
    test_cfg = cfg.test_cfg.get('rcnn', cfg.test_cfg)
    test_cfg.update(nms_pre=100, max_per_img=20)
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = LocalLearningModel(copy.deepcopy(cfg), num_modules=3)
    local.train_step(batch(), sgd_wrapper(local, lr=0.01))
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(copy.deepcopy(cfg))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = batch(1, n=1)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    for a, b in zip(ours, theirs):
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(a.pred_instances[key],
                                       b.pred_instances[key], msg=name)


def test_two_stage_adapter_runs_the_output_norms_in_front_of_the_neck():
    init_default_scope('mmdet')
    model = LocalLearningModel(faster_rcnn_convnext(), num_modules=3)
    neck = model.task.head_modules()[0]
    backbone = model.model.backbone
    assert neck.neck is model.model.neck
    assert [neck.outputs[str(i)] for i in range(4)] == \
        [getattr(backbone, f'norm{i}') for i in range(4)]
    # The norms are neither a unit's nor in any aux: shared like the neck.
    units = {id(p) for u in model.units.units for p in u.module.parameters()}
    assert not units & {id(p) for p in neck.outputs.parameters()}


def test_ssdvgg_stages_end_at_ssd_out_feature_indices():
    init_default_scope('mmdet')
    units = build_units(MODELS.build(dict(type='SSDVGG', depth=16)))
    ends = [u for u in units.units if u.is_stage_end]
    assert [len(list(u.module)) for u in ends[3:]] == [2, 2]  # conv, ReLU
    assert units.stage_out_channels(3) == 512
    assert units.stage_out_channels(4) == 1024
    with pytest.raises(ValueError, match='out_feature_indices'):
        build_units(MODELS.build(dict(type='SSDVGG', depth=16,
                                      out_feature_indices=(21, 34))))


def test_dense_convnext_with_pooling_is_still_refused():
    init_default_scope('mmpretrain')
    backbone = MODELS.build(dict(
        type='ConvNeXt', arch=dict(depths=[1, 1, 1, 1],
                                   channels=[8, 16, 32, 64]),
        out_indices=(1, 3)))
    with pytest.raises(ValueError, match='gap_before_final_norm'):
        build_units(backbone)
    assert ConvNeXtUnits.refusal(None, dict(out_indices=(1, 3)))
    assert ConvNeXtUnits.refusal(None, dict(
        out_indices=(1, 3), gap_before_final_norm=False)) is None


def test_hrnet_is_refused_by_name_with_the_reason():
    from man_mm.models.splitters import HRNetRefusal
    from man_mm.registry import UNIT_SPLITTERS, find_registered
    init_default_scope('mmdet')
    hrnet = MODELS.build(dict(type='HRNet', extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                    num_blocks=(1, ), num_channels=(8, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                    num_blocks=(1, 1), num_channels=(8, 16)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC',
                    num_blocks=(1, 1, 1), num_channels=(8, 16, 32)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC',
                    num_blocks=(1, 1, 1, 1),
                    num_channels=(8, 16, 32, 64)))))
    assert find_registered(UNIT_SPLITTERS, hrnet) is HRNetRefusal
    with pytest.raises(TypeError, match='multi-branch.*single activation'):
        build_units(hrnet)
    assert 'multi-branch' in HRNetRefusal.refusal(type(hrnet), {})


def test_pvt_v1_position_embedding_goes_with_the_first_layer():
    init_default_scope('mmdet')
    backbone = MODELS.build(dict(
        type='PyramidVisionTransformer', embed_dims=8,
        num_layers=[1, 2, 1, 1], pretrain_img_size=64))
    backbone.eval()
    units = build_units(backbone)
    assert len(units) == 5  # position embeddings are not units
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outs, y = {}, x
        for u in units.units:
            y = u.module(y)
            if u.is_stage_end:
                outs[u.stage] = y
        for i, out in enumerate(backbone(x)):
            torch.testing.assert_close(outs[i], out, atol=0, rtol=0)
    # Fresh copies re-draw the position embedding: no backbone weight.
    fresh = units.fresh_blocks_after(units.units[0])[0]
    assert not torch.equal(fresh.blocks[0].pos_embed,
                           backbone.layers[1][1][0].pos_embed)
