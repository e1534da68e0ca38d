"""MAN on mmdet's single-stage instance segmentors
(``InstanceSegTaskAdapter``): tiny SOLO, SOLOv2, YOLACT, CondInst and
BoxInst on a narrow ResNet-18, from mmdet's shipped configs.

Checked as the other detectors are (``test_detr.py``): gradient
isolation, K=1 is BP, local training keeps fewer activations than BP, and
the checkpoint stripped of aux nets loads into the plain model and
predicts the same.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import MODELS, init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.models.local_learning import local_steps
from man_mm.testing import assert_gradient_isolated
from man_mm.utils import ActivationMemoryMeter
from tests.helpers import load_tool, sgd_wrapper


def _groups(cfg):
    """GN with 8 groups (mmdet's 32 do not divide the tiny widths)."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'num_groups':
                cfg[key] = 8
            else:
                _groups(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _groups(value)
    return cfg


def shipped(config):
    """mmdet's ``config`` on a ResNet-18 of base width 16 (stage widths
    16..128), an FPN of width 32, 3 classes; test thresholds at 0 so that
    the untrained models predict something to compare."""
    import mmdet
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__), '.mim/configs', config)).model.to_dict()
    _groups(cfg)
    # Not zero_init_residual (``init_weights`` would zero each block's last
    # BN, and with it its other convs' gradients, until trained).
    cfg['backbone'].update(depth=18, base_channels=16, init_cfg=None,
                           zero_init_residual=False)
    cfg['neck'].update(in_channels=[16, 32, 64, 128], out_channels=32)
    head = cfg.get('bbox_head') or cfg['mask_head']
    head.update(num_classes=3, in_channels=32, feat_channels=32)
    cfg['test_cfg'].update(score_thr=0.0)
    return cfg


def solo_family(config):
    cfg = shipped(config)
    # SOLO's untrained masks are ~0.01 everywhere: a threshold of 0 keeps
    # them (and the matrix-NMS filter keeps every score).
    cfg['mask_head'].update(stacked_convs=1, num_grids=[8, 6, 4, 3, 2])
    cfg['test_cfg'].update(mask_thr=0.0, filter_thr=0.0)
    return cfg


def solo():
    return solo_family('solo/solo_r50_fpn_1x_coco.py')


def solov2():
    cfg = solo_family('solov2/solov2_r50_fpn_1x_coco.py')
    cfg['mask_head']['mask_feature_head'].update(feat_channels=16,
                                                 out_channels=32)
    return cfg


def yolact():
    cfg = shipped('yolact/yolact_r50_1xb8-55e_coco.py')
    cfg['bbox_head'].update(num_protos=8)
    cfg['mask_head'].update(num_classes=3, in_channels=32, num_protos=8,
                            proto_channels=(16, 16, 16, None, 16, 8))
    return cfg


def condinst_family(config):
    cfg = shipped(config)
    cfg['bbox_head'].update(stacked_convs=1)
    cfg['mask_head']['mask_feature_head'].update(
        in_channels=32, feat_channels=16, num_stacked_convs=1)
    return cfg


def condinst():
    return condinst_family(
        'condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py')


def boxinst():
    return condinst_family('boxinst/boxinst_r50_fpn_ms-90k_coco.py')


KINDS = dict(solo=solo, solov2=solov2, yolact=yolact, condinst=condinst,
             boxinst=boxinst)


def build(cfg, local=True, **kwargs):
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return LocalLearningModel(model, **kwargs) if local else model


def seg_batch(seed=0, n=2, size=64):
    """Images with 3 instances each: boxes, labels and ``BitmapMasks``."""
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    return demo_mm_inputs(n, [[3, size, size]] * n, num_items=[3] * n,
                          num_classes=3, with_mask=True)


@pytest.fixture(params=list(KINDS))
def kind(request):
    init_default_scope('mmdet')
    # BoxInst warms its pairwise loss up over the runner's iterations (read
    # from the MessageHub): past the warm-up, so that it counts.
    hub = MessageHub.get_current_instance()
    old = hub.get_info('iter')
    hub.update_info('iter', 10000)
    from mmengine.config import ConfigDict
    yield request.param, ConfigDict(KINDS[request.param]())
    if old is None:
        hub.pop_info('iter')
    else:
        hub.update_info('iter', old)


def test_the_head_is_neck_bbox_head_and_mask_head(kind):
    name, cfg = kind
    model = build(cfg, num_modules=3)
    assert type(model.task).__name__ == 'InstanceSegTaskAdapter'
    detector = model.model
    expected = [detector.neck] + (
        [detector.bbox_head] if detector.bbox_head is not None else []) + \
        [detector.mask_head]
    assert model.task.head_modules() == expected
    assert (detector.bbox_head is None) == name.startswith('solo')
    head = {id(p) for h in expected for p in h.parameters()}
    backbone = {id(p) for p in detector.backbone.parameters()}
    assert head | backbone == {id(p) for p in detector.parameters()}


def test_gradient_isolation_with_the_shared_head(kind):
    _, cfg = kind
    model = build(cfg, num_modules=3)
    assert_gradient_isolated(model, seg_batch(), shared_head=True)


def test_gradient_isolation_with_own_heads(kind):
    """``share_head=False``: each aux runs its own copies of the neck, bbox
    and mask heads (the bbox head's positive samples go to the mask head
    of the same copy) and only the last module's loss reaches the
    detector's. (Not ``assert_gradient_isolated``: a head level without
    positive samples -- SOLO's mask kernels, CondInst's scales -- gets no
    gradient, in BP too.)"""
    _, cfg = kind
    model = build(cfg, num_modules=3,
                  aux=dict(type='man_mm.SLMDetAux', share_head=False))
    head = {id(p) for h in model.task.head_modules()
            for p in h.parameters()}
    model.train()
    data = model.data_preprocessor(seg_batch(), True)
    for step in local_steps(model, data['inputs'], data['data_samples']):
        lm = step.module
        model.zero_grad(set_to_none=True)
        model.parse_losses(step.losses)[0].backward()
        own = {id(p) for p in lm.body.parameters()} | \
            {id(p) for p in lm.aux.parameters()}
        for name, p in model.named_parameters():
            if p.grad is not None:
                assert id(p) in own or (step.is_last and id(p) in head), \
                    f'module {lm.index} leaked into {name}'
        body = [p.grad for p in lm.body.parameters() if p.requires_grad]
        assert all(g is not None and g.abs().sum() > 0 for g in body)
        # Every copy (neck, bbox head, mask head) is trained by its loss.
        heads = model.task.head_modules() if step.is_last else \
            lm.aux.own_heads
        assert len(heads) == len(model.task.head_modules())
        for h in heads:
            assert any(p.grad is not None and p.grad.abs().sum() > 0
                       for p in h.parameters()), type(h).__name__


def test_k1_reproduces_bp(kind):
    """K=1 is BP: the same losses, then the same parameters after two SGD
    steps."""
    name, cfg = kind
    torch.manual_seed(0)
    bp = build(cfg, local=False)
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = sgd_wrapper(bp, 0.01), sgd_wrapper(local, 0.01)
    for step in range(2):
        logs = []
        for model, optim in ((bp, bp_optim), (local, local_optim)):
            torch.manual_seed(step)  # YOLACT samples masks to train
            logs.append(model.train_step(seg_batch(step), optim))
        assert set(logs[0]) == set(logs[1]), name
        for key in logs[0]:
            torch.testing.assert_close(logs[0][key], logs[1][key],
                                       msg=f'{name}: {key}')
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4,
                                   msg=f'{name}: {pname}')


def test_local_peak_is_below_bp(kind):
    name, cfg = kind
    peaks = {}
    for key in ('bp', 'local'):
        torch.manual_seed(0)
        model = build(cfg, local=key == 'local')
        with ActivationMemoryMeter.for_model(model) as meter:
            model.train_step(seg_batch(size=128), sgd_wrapper(model, 0.0))
        peaks[key] = meter.peak_mib
    assert peaks['local'] < peaks['bp'], (name, peaks)


def test_stripped_checkpoint_predicts_like_the_local_model(kind):
    name, cfg = kind
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = build(cfg, num_modules=3)
    local.train_step(seg_batch(), sgd_wrapper(local, lr=0.01))
    bbox_head = local.model.bbox_head
    if bbox_head is not None:  # no head outputs kept past their module
        assert not bbox_head._raw_positive_infos
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(copy.deepcopy(cfg))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = seg_batch(1)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    for a, b in zip(ours, theirs):
        assert len(a.pred_instances) > 0, name
        for key in ('bboxes', 'scores', 'labels', 'masks'):
            torch.testing.assert_close(a.pred_instances[key],
                                       b.pred_instances[key],
                                       msg=f'{name}: {key}')
