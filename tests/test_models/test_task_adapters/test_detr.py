"""MAN on mmdet's DETR family (``DETRTaskAdapter``): tiny DETR and
DeformableDETR on a ResNet-18.

Checked as the other detectors are (``test_more_architectures.py``):
gradient isolation, K=1 is BP, local training keeps fewer activations
than BP, and the checkpoint stripped of aux nets loads into the plain
model and predicts the same.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.models.local_learning import local_steps
from man_mm.testing import assert_gradient_isolated
from man_mm.utils import ActivationMemoryMeter
from tests.helpers import load_tool, sgd_wrapper

#: Key -> value of mmdet's config that makes the transformer tiny.
SMALL = dict(embed_dims=32, num_heads=2, feedforward_channels=64,
             num_layers=1, num_feats=16, out_channels=32, dropout=0.0,
             ffn_drop=0.0, num_points=2, num_levels=None)


def _shrink(cfg):
    if isinstance(cfg, dict):
        for key, value in list(cfg.items()):
            if key == 'num_groups':
                cfg[key] = 8
            elif key in SMALL and SMALL[key] is not None:
                cfg[key] = SMALL[key]
            else:
                _shrink(value)
    elif isinstance(cfg, list):
        for value in cfg:
            _shrink(value)
    return cfg


def detr_family(config, in_channels):
    """mmdet's shipped ``config`` on a ResNet-18, 1 encoder and decoder
    layer of width 32, 10 queries, 3 classes."""
    import mmdet
    from mmengine.config import Config, ConfigDict
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__), '.mim/configs', config)).model.to_dict()
    _shrink(cfg)
    cfg['num_queries'] = 10
    # Not zero_init_residual: with frozen BN (the DETR configs') a zeroed
    # residual BN stays zero without the pretrained weights.
    cfg['backbone'].update(depth=18, init_cfg=None, zero_init_residual=False)
    cfg['neck']['in_channels'] = in_channels
    cfg['bbox_head'].update(num_classes=3, embed_dims=32)
    cfg['test_cfg']['max_per_img'] = 10  # <= queries x classes
    return ConfigDict(cfg)


def detr():
    return detr_family('detr/detr_r50_8xb2-150e_coco.py', [512])


def deformable_detr():
    return detr_family(
        'deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',
        [128, 256, 512])


KINDS = dict(detr=detr, deformable_detr=deformable_detr)


def build(cfg, local=True, **kwargs):
    """The detector with its weights initialised (DeformableDETR's
    ``level_embed`` is ``torch.Tensor(...)``, garbage -- at times NaN --
    until ``init_weights``, which the Runner calls), wrapped in a
    LocalLearningModel when ``local``."""
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return LocalLearningModel(model, **kwargs) if local else model


def det_batch(seed=0, n=2, size=64):
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    return demo_mm_inputs(n, [[3, size, size]] * n, num_items=[3] * n,
                          num_classes=3)


@pytest.fixture(params=list(KINDS))
def kind(request):
    init_default_scope('mmdet')
    return request.param, KINDS[request.param]()


def test_the_head_is_everything_but_the_backbone(kind):
    name, cfg = kind
    model = build(cfg, num_modules=3)
    assert type(model.task).__name__ == 'DETRTaskAdapter'
    heads = model.task.head_modules()
    assert heads[0] is model.model.neck
    head = {id(p) for h in heads for p in h.parameters()}
    backbone = {id(p) for p in model.model.backbone.parameters()}
    assert head | backbone == {id(p) for p in model.model.parameters()}
    assert not head & backbone
    if name == 'deformable_detr':  # a parameter of the detector itself
        assert id(model.model.level_embed) in head


def test_gradient_isolation_with_the_shared_head(kind):
    _, cfg = kind
    model = build(cfg, num_modules=3)
    assert_gradient_isolated(model, det_batch(), shared_head=True)


def test_gradient_isolation_with_own_heads(kind):
    """``share_head=False``: each aux runs its own copy of the transformer
    (on a shallow copy of the detector) and only the last module's loss
    reaches the detector's. (Not ``assert_gradient_isolated``: DETR's first
    decoder self-attention reads all-zero queries, so its weights get a
    zero gradient, in BP too.)"""
    _, cfg = kind
    model = build(cfg, num_modules=3,
                  aux=dict(type='man_mm.SLMDetAux', share_head=False))
    head = {id(p) for h in model.task.head_modules()
            for p in h.parameters()}
    model.train()
    data = model.data_preprocessor(det_batch(), True)
    for step in local_steps(model, data['inputs'], data['data_samples']):
        lm = step.module
        model.zero_grad(set_to_none=True)
        model.parse_losses(step.losses)[0].backward()
        own = {id(p) for p in lm.body.parameters()} | \
            {id(p) for p in lm.aux.parameters()}
        if not step.is_last:  # its own copies: every one reached
            assert {id(p) for p in lm.aux.own_heads.parameters()} <= own
        for name, p in model.named_parameters():
            reached = p.grad is not None
            if not p.requires_grad:
                assert not reached, name
            elif id(p) in own or (step.is_last and id(p) in head):
                assert reached, f'{name}: no gradient from {lm.index}'
            else:
                assert not reached, f'module {lm.index} leaked into {name}'
        body = [p.grad for p in lm.body.parameters() if p.requires_grad]
        assert all(g.abs().sum() > 0 for g in body)


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
            torch.manual_seed(step)
            logs.append(model.train_step(det_batch(step), optim))
        torch.testing.assert_close(logs[0]['loss'], logs[1]['loss'])
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
            model.train_step(det_batch(size=128), sgd_wrapper(model, 0.0))
        peaks[key] = meter.peak_mib
    assert peaks['local'] < peaks['bp'], (name, peaks)


def test_stripped_checkpoint_predicts_like_the_local_model(kind):
    _, cfg = kind
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = build(cfg, num_modules=3)
    # Clipped as mmdet's DETR configs clip (unclipped, one SGD step can
    # blow the tiny DeformableDETR's features up to inf).
    local.train_step(det_batch(), sgd_wrapper(
        local, lr=0.01, clip_grad=dict(max_norm=0.1, norm_type=2)))
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(copy.deepcopy(cfg))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = det_batch(1)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    for a, b in zip(ours, theirs):
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(a.pred_instances[key],
                                       b.pred_instances[key])
