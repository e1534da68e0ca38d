"""MAN on mmdet detectors: RetinaNet and YOLOv3 with the feature bank."""
import copy

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

from man_mm.models import LocalLearningModel, SLMDetAux
from man_mm.utils import ActivationMemoryMeter
from man_mm.testing import assert_gradient_isolated
from tests.helpers import det_batch, retinanet, sgd_wrapper, yolov3_r34


@pytest.fixture(autouse=True)
def _mmdet_scope():
    init_default_scope('mmdet')
    yield


def test_frozen_units_run_in_front_and_k_counts_trainable_modules():
    model = LocalLearningModel(retinanet(depth=18, frozen_stages=1))
    # R18: stem+layer1.0, layer1.1 frozen; 6 trainable units -> K=6.
    assert [u.name for u in model.frozen_units] == ['stem+layer1.0',
                                                     'layer1.1']
    assert model.num_modules == 6
    assert 'after 2 frozen units' in model.describe()
    with pytest.raises(ValueError, match='num_modules=7 is larger'):
        LocalLearningModel(retinanet(depth=18), num_modules=7)


def test_train_mode_keeps_the_base_models_frozen_and_norm_eval_bns():
    """``train()`` leaves every BatchNorm in the mode the base model's own
    ``train()`` sets: mmdet's ResNet keeps its frozen stages (and, with
    norm_eval, all its BNs) in eval, as under BP."""
    for norm_eval in (False, True):
        cfg = retinanet(depth=18, frozen_stages=1)
        cfg['backbone']['norm_eval'] = norm_eval
        model = LocalLearningModel(cfg, num_modules=3)
        plain = MODELS.build(retinanet(depth=18, frozen_stages=1))
        plain.backbone.norm_eval = norm_eval
        model.train()
        plain.train()
        modes = {n: m.training for n, m in model.model.named_modules()
                 if isinstance(m, torch.nn.BatchNorm2d)}
        assert modes == {n: m.training for n, m in plain.named_modules()
                         if isinstance(m, torch.nn.BatchNorm2d)}
        assert not modes['backbone.bn1']  # frozen stem


@pytest.mark.parametrize('share_head', [True, False])
def test_gradient_isolation_on_a_detector(share_head):
    model = LocalLearningModel(
        retinanet(depth=18, frozen_stages=1), num_modules=3,
        aux=dict(type='man_mm.SLMDetAux', share_head=share_head))
    # The neck and bbox head are shared by every module, or (share_head
    # False) only the last module's loss reaches them.
    assert {id(m) for m in model.task.head_modules()} == \
        {id(model.model.neck), id(model.model.bbox_head)}
    assert_gradient_isolated(model, det_batch(), shared_head=share_head)


def test_bank_holds_detached_stage_outputs_refreshed_every_iteration():
    model = LocalLearningModel(retinanet(depth=18), num_modules=3)
    optim = sgd_wrapper(model, lr=0.001)
    model.train_step(det_batch(seed=0), optim)
    bank = model.feature_bank
    shapes = {k: tuple(bank[k].shape) for k in bank}
    # RetinaNet's FPN starts at C3: stage0 (C2) is never read, not kept.
    assert shapes == {'stage1': (2, 128, 16, 16), 'stage2': (2, 256, 8, 8),
                      'stage3': (2, 512, 4, 4)}
    assert all(not bank[k].requires_grad for k in bank)
    before = bank['stage3'].clone()
    model.train_step(det_batch(seed=1), optim)
    assert not torch.equal(before, bank['stage3'])


def test_slm_aux_reads_shallower_stages_from_the_bank():
    model = LocalLearningModel(retinanet(depth=18, frozen_stages=-1))
    # The module ending at layer3.0 (stage 2, not its end).
    lm = next(m for m in model.local_modules
              if m.unit_names[-1] == 'layer3.0')
    aux = lm.aux
    assert isinstance(aux, SLMDetAux) and aux.adapt
    assert len(aux.rest) == 1 and len(aux.later) == 1  # layer3 rest, layer4
    reads = []

    class SpyBank(dict):
        def __getitem__(self, key):
            reads.append(key)
            return dict.__getitem__(self, key)

    bank = SpyBank(stage0=torch.zeros(2, 64, 32, 32),
                   stage1=torch.zeros(2, 128, 16, 16))
    feats = aux.stage_features(torch.zeros(2, 256, 8, 8), bank)
    assert reads == ['stage1']  # stage0 (C2) is below the FPN's start
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        1: (128, 16, 16), 2: (256, 8, 8), 3: (512, 4, 4)}


def test_adapt_and_share_head_switches_build_the_intended_aux():
    def first_aux(**kw):
        m = LocalLearningModel(retinanet(depth=18), num_modules=3,
                               aux=dict(type='man_mm.SLMDetAux', **kw))
        return m, m.aux_heads[0]

    model, aux = first_aux(adapt=True, share_head=True)
    assert aux.heads[0] is model.model.neck
    assert aux.heads[1] is model.model.bbox_head
    assert not hasattr(aux, 'own_heads') and not hasattr(aux, 'pyramid')
    model, aux = first_aux(adapt=False, share_head=False)
    assert hasattr(aux, 'pyramid') and not hasattr(aux, 'later')
    assert aux.heads[1] is not model.model.bbox_head
    assert aux.own_heads[1].cls_convs[0].conv.weight.data_ptr() != \
        model.model.bbox_head.cls_convs[0].conv.weight.data_ptr()
    # adapt=False never reads the bank.
    feats = aux.stage_features(torch.zeros(2, 128, 16, 16), bank=None)
    assert sorted(feats) == [1, 2, 3]


def test_dgl_aux_owns_its_heads():
    model = LocalLearningModel(retinanet(depth=18), num_modules=3,
                               aux=dict(type='man_mm.DGLDetAux'))
    model.train_step(det_batch(), sgd_wrapper(model, lr=0.001))
    aux = model.aux_heads[0]
    assert aux.heads[0] is not model.model.neck
    # Its pyramid builds only what the FPN reads (C3-C5), not C2.
    assert sorted(aux.pyramid.proj) == ['1', '2', '3']


def test_yolov3_bank_keeps_only_the_neck_inputs():
    model = LocalLearningModel(yolov3_r34())
    model.train_step(det_batch(size=96), sgd_wrapper(model, lr=1e-4))
    assert sorted(model.feature_bank) == ['stage1', 'stage2', 'stage3']


def test_yolov3_trains_locally():
    model = LocalLearningModel(yolov3_r34())
    assert model.num_modules == 13   # 16 blocks, stem+layer1 frozen
    log = model.train_step(det_batch(size=96), sgd_wrapper(model, lr=1e-4))
    assert torch.isfinite(log['loss']) and 'loss_aux' in log


def test_retinanet_r50_local_peak_is_below_bp():
    """mmdet's default RetinaNet-R50 (80 classes, stem+layer1 frozen) at
    2x3x512x512: local training at the paper's split (K=16, 13 trainable
    modules) and at K=4 keeps fewer activations than BP."""
    cfg = retinanet(depth=50, small=False)
    cfg['bbox_head']['num_classes'] = 80
    batch = det_batch(2, 512)
    peaks = {}
    for k in ('bp', None, 4):
        torch.manual_seed(0)
        model = MODELS.build(copy.deepcopy(cfg)) if k == 'bp' else \
            LocalLearningModel(copy.deepcopy(cfg), num_modules=k)
        with ActivationMemoryMeter.for_model(model) as meter:
            model.train_step(copy.deepcopy(batch),
                             sgd_wrapper(model, lr=0.0))
        peaks[k] = meter.peak_mib
    assert 800 < peaks['bp'] < 850, peaks  # DESIGN §3: ~823 MiB
    assert peaks[None] < peaks['bp'], peaks
    assert peaks[4] < peaks['bp'], peaks
