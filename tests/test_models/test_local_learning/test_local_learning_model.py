"""Behaviour of the local-learning train step (issue: foundation)."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from man_mm.models import LocalLearningModel, NonFiniteLocalLossError
from man_mm.testing import assert_gradient_isolated
from man_mm.utils import ActivationMemoryMeter
from tests.helpers import cifar_classifier, fake_batch, local_model, \
    sgd_wrapper


def _params_of(module):
    return {id(p) for p in module.parameters()}


def test_default_k_is_one_module_per_unit():
    model = local_model(depth=32)
    # CIFAR ResNet-32: the stem is its own unit, then 15 blocks -> K=16.
    assert model.num_modules == 16
    assert len(model.aux_heads) == 15  # the last module uses the real head
    assert 'K=16' in model.describe()


@pytest.mark.parametrize('k', [1, 2, 4, 8])
def test_grouping_covers_every_unit_once(k):
    model = local_model(depth=32, num_modules=k)
    names = [n for lm in model.local_modules for n in lm.unit_names]
    assert model.num_modules == k
    assert names == [u.name for u in model.units.units]


def test_checkpoint_keeps_base_model_layout():
    model = local_model(depth=20, num_modules=4)
    keys = model.state_dict().keys()
    assert {k.split('.')[0] for k in keys} == {'model', 'aux_heads'}
    base = model.model.state_dict()
    assert {k[len('model.'):] for k in keys if k.startswith('model.')} \
        == set(base)


@pytest.mark.parametrize('share_head', [True, False])
def test_gradient_isolation(share_head):
    """Each module's parameters get gradient from its own local loss only,
    and every parameter of the module and of its aux net gets some."""
    model = local_model(
        depth=20, num_modules=4,
        aux=dict(type='man_mm.SLMClsAux', share_head=share_head))
    # Expected: the gradient of each local loss alone.
    expected = assert_gradient_isolated(model, fake_batch(8))

    # Actual: one train_step; capture the gradients the optimizer sees.
    model.zero_grad(set_to_none=True)
    optim = sgd_wrapper(model)
    seen = {}
    optim.step = lambda **kw: seen.update(
        {id(p): p.grad.clone() for p in model.parameters()
         if p.grad is not None})
    model.train_step(fake_batch(8), optim)
    for lm in model.local_modules:
        for p in lm.body.parameters():
            torch.testing.assert_close(seen[id(p)], expected[id(p)])


def test_k1_reproduces_bp():
    """K=1 is BP: same parameters after 3 SGD steps."""
    from mmpretrain.models import ImageClassifier  # noqa: F401
    from mmengine.registry import MODELS
    torch.manual_seed(0)
    bp = MODELS.build(cifar_classifier(depth=20))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = sgd_wrapper(bp), sgd_wrapper(local)
    for step in range(3):
        batch = fake_batch(8, seed=step)
        bp.train_step(copy.deepcopy(batch), bp_optim)
        local.train_step(copy.deepcopy(batch), local_optim)
    for (name, p), q in zip(bp.named_parameters(),
                            local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=name)


def _act_mem(model, train_step_model, optim):
    with ActivationMemoryMeter.for_model(model) as meter:
        train_step_model.train_step(fake_batch(64), optim)
    return meter.peak_bytes


def test_local_training_peaks_below_40_percent_of_bp():
    """ResNet-32 at batch 64: K=16 keeps <= 40% of BP's activations."""
    from mmengine.registry import MODELS
    bp = MODELS.build(cifar_classifier(depth=32))
    local = local_model(depth=32)
    bp_mem = _act_mem(bp, bp, sgd_wrapper(bp))
    local_mem = _act_mem(local, local, sgd_wrapper(local))
    assert bp_mem > 0
    ratio = local_mem / bp_mem
    assert ratio <= 0.40, f'local/BP activation memory = {ratio:.2%}'


def test_summed_losses_would_not_save_memory():
    """The meter is not fooled: one backward of all local losses (isolated
    but not freed per module) costs at least as much as BP."""
    from mmengine.registry import MODELS
    bp = MODELS.build(cifar_classifier(depth=20))
    local = local_model(depth=20)
    bp_mem = _act_mem(bp, bp, sgd_wrapper(bp))
    data = local.data_preprocessor(fake_batch(64), True)
    with ActivationMemoryMeter.for_model(local) as meter:
        losses = local(data['inputs'], data['data_samples'], mode='loss')
        sum(losses.values()).backward()
    assert meter.peak_bytes >= bp_mem


def test_gradient_accumulation_is_exact():
    """accumulative_counts=2 at K=1 matches mmengine's BP accumulation."""
    from mmengine.registry import MODELS
    torch.manual_seed(0)
    bp = MODELS.build(cifar_classifier(depth=20))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim = sgd_wrapper(bp, accumulative_counts=2)
    local_optim = sgd_wrapper(local, accumulative_counts=2)
    for wrapper, model in ((bp_optim, bp), (local_optim, local)):
        wrapper.initialize_count_status(model, 0, 4)
    for step in range(4):
        batch = fake_batch(8, seed=step)
        bp.train_step(copy.deepcopy(batch), bp_optim)
        local.train_step(copy.deepcopy(batch), local_optim)
    for p, q in zip(bp.parameters(), local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0)


def test_accumulation_steps_once_per_n_iterations_with_k_modules():
    model = local_model(depth=20, num_modules=4)
    optim = sgd_wrapper(model, accumulative_counts=2)
    optim.initialize_count_status(model, 0, 4)
    before = [p.clone() for p in model.model.backbone.parameters()]
    model.train_step(fake_batch(8), optim)
    assert all(torch.equal(a, b) for a, b in
               zip(before, model.model.backbone.parameters()))
    model.train_step(fake_batch(8, seed=1), optim)
    assert not all(torch.equal(a, b) for a, b in
                   zip(before, model.model.backbone.parameters()))


# -- bad input -------------------------------------------------------------
def test_k_larger_than_units_is_refused():
    with pytest.raises(ValueError, match=r'num_modules=17 .*16.*units'):
        local_model(depth=32, num_modules=17)


def test_bad_split_points_are_refused():
    with pytest.raises(ValueError, match='split_points'):
        local_model(depth=20, split_points=[3, 2])


def test_unknown_backbone_is_refused():
    cfg = cifar_classifier()
    cfg['backbone'] = dict(type='HiViT', arch='tiny')
    cfg['head']['in_channels'] = 384
    with pytest.raises(TypeError, match='cannot split backbone HiViT'):
        LocalLearningModel(cfg)


def test_unknown_aux_type_is_refused():
    with pytest.raises(KeyError, match="unknown aux type 'man_mm.Nope'"):
        local_model(aux=dict(type='man_mm.Nope'))


def test_unknown_bank_key_is_refused():
    with pytest.raises(KeyError, match='feature_bank got unknown keys'):
        local_model(feature_bank=dict(tap=['stages']))


def test_non_finite_loss_names_module_and_iteration():
    model = local_model(depth=20, num_modules=4,
                        aux=dict(type='man_mm.SLMClsAux', share_head=False))
    with torch.no_grad():
        for p in model.aux_heads[1].parameters():
            p.fill_(float('nan'))
    with pytest.raises(NonFiniteLocalLossError,
                       match=r'local module 1 .* at iteration 0'):
        model.train_step(fake_batch(8), sgd_wrapper(model))


def test_optim_wrapper_dict_is_refused():
    from mmengine.optim import OptimWrapperDict
    model = local_model(depth=20, num_modules=2)
    with pytest.raises(TypeError, match='single OptimWrapper'):
        model.train_step(fake_batch(4),
                         OptimWrapperDict(a=sgd_wrapper(model)))


def test_inference_is_the_base_model():
    model = local_model(depth=20, num_modules=4).eval()
    data = model.data_preprocessor(fake_batch(4), False)
    ours = model(data['inputs'], data['data_samples'], mode='predict')
    base = model.model(data['inputs'], data['data_samples'], mode='predict')
    for a, b in zip(ours, base):
        torch.testing.assert_close(a.pred_score, b.pred_score)


def _cpu_amp_wrapper(model, monkeypatch, dtype=None):
    """mmengine's AmpOptimWrapper on CPU: it refuses to build without an
    accelerator, so pretend one is there and give it a CPU GradScaler."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    from mmengine.optim import AmpOptimWrapper
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        dtype=dtype)
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=2.**10)
    return wrapper


def test_amp_scales_every_local_backward_and_steps_once(monkeypatch):
    """K scaled backwards, then one unscale/step: the same update as fp32
    (the scale is a power of two, so unscaling is exact)."""
    torch.manual_seed(0)
    plain_model = local_model(depth=20, num_modules=4)
    amp_model = copy.deepcopy(plain_model)
    plain = sgd_wrapper(plain_model)
    amp = _cpu_amp_wrapper(amp_model, monkeypatch)
    # Compare in fp32: keep the scaler, skip autocast.
    monkeypatch.setattr(type(amp), 'optim_context',
                        OptimWrapper.optim_context)
    scaled, steps = [], []
    scale, step = amp.loss_scaler.scale, amp.loss_scaler.step
    amp.loss_scaler.scale = lambda loss: scaled.append(1) or scale(loss)
    amp.loss_scaler.step = lambda *a, **k: steps.append(1) or step(*a, **k)
    for i in range(2):
        plain_model.train_step(fake_batch(8, seed=i), plain)
        amp_model.train_step(fake_batch(8, seed=i), amp)
    assert len(scaled) == 2 * 4 and len(steps) == 2
    for p, q in zip(plain_model.parameters(), amp_model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0)


def test_amp_autocast_runs_every_module_in_low_precision(monkeypatch):
    model = local_model(depth=20, num_modules=4)
    amp = _cpu_amp_wrapper(model, monkeypatch, dtype='bfloat16')
    dtypes = []
    for lm in model.local_modules:
        lm.body.register_forward_hook(
            lambda m, i, o: dtypes.append(o.dtype))
    log = model.train_step(fake_batch(8), amp)
    assert dtypes == [torch.bfloat16] * 4
    assert torch.isfinite(log['loss'])


def test_shared_head_gradient_is_the_mean_over_its_users():
    torch.manual_seed(0)
    mean_model = local_model(depth=20, num_modules=4)
    sum_model = LocalLearningModel(copy.deepcopy(mean_model.model),
                                   num_modules=4, shared_head_grad='sum')
    sum_model.aux_heads.load_state_dict(mean_model.aux_heads.state_dict())
    assert mean_model.shared_head_users == 4
    grads = []
    for model in (mean_model, sum_model):
        optim = sgd_wrapper(model)
        seen = {}
        optim.step = lambda **kw: seen.update(
            {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None})
        model.train_step(fake_batch(8), optim)
        grads.append(seen)
    for name in grads[0]:
        expected = grads[1][name] / 4 if name.startswith('model.head') \
            else grads[1][name]
        torch.testing.assert_close(grads[0][name], expected, msg=name)
    assert any(n.startswith('model.head') for n in grads[0])


def test_misspelt_config_key_is_named():
    from mmengine.registry import MODELS
    with pytest.raises(TypeError,
                       match=r"'num_module' \(did you mean 'num_modules'\?\)"):
        MODELS.build(dict(type='man_mm.LocalLearningModel',
                          model=cifar_classifier(), num_module=4))


@pytest.mark.parametrize('aux', ['man_mm.SLMClsAux', 'man_mm.DGLClsAux',
                                 'man_mm.InfoProClsAux',
                                 'man_mm.PredSimClsAux',
                                 'man_mm.AugLocalClsAux'])
def test_every_classification_aux_trains_all_its_parameters(aux):
    model = local_model(depth=20, num_modules=4, aux=dict(type=aux))
    optim = sgd_wrapper(model)
    seen = {}
    # Modules may step one by one: collect over every step of the iteration.
    optim.step = lambda **kw: seen.setdefault('ids', set()).update({
        id(p) for p in model.parameters()
        if p.grad is not None and p.grad.abs().sum() > 0})
    log = model.train_step(fake_batch(8), optim)
    assert torch.isfinite(log['loss']) and torch.isfinite(log['loss_aux'])
    for aux_net in model.aux_heads:
        for name, p in aux_net.named_parameters():
            assert id(p) in seen['ids'], f'{aux}: {name} got no gradient'


def test_memory_balanced_split_lowers_the_costliest_module():
    even = local_model(depth=20, num_modules=5)
    balanced = local_model(depth=20, num_modules=5, balance='memory',
                           balance_input_shape=(3, 32, 32))
    costs = dict(zip([u.name for u in even.units.units],
                     even._unit_costs((3, 32, 32), even.units.units)))

    def worst(model):
        return max(sum(costs[n] for n in lm.unit_names)
                   for lm in model.local_modules)

    assert [n for lm in balanced.local_modules for n in lm.unit_names] == \
        list(costs)
    assert worst(balanced) < worst(even)


def test_sync_bn_conversion_reaches_every_local_module():
    """mmengine's ``sync_bn`` converts the registered model after the units
    were built; every local module must then run the converted layers (the
    stem too, which a unit wraps)."""
    from mmengine.model import convert_sync_batchnorm
    from torch.nn.modules.batchnorm import _BatchNorm
    model = convert_sync_batchnorm(local_model(depth=20, num_modules=4))
    ran = []
    seen = set(model.modules()) | {m for lm in model.local_modules
                                   for m in lm.modules()}
    for m in seen:
        if isinstance(m, _BatchNorm):
            m.register_forward_hook(lambda m, i, o: ran.append(m))
    model.eval()  # SyncBatchNorm runs as BN outside a process group
    x = torch.randn(2, 3, 32, 32)
    for lm in model.local_modules:
        x = lm.body(x)
    assert all(isinstance(m, torch.nn.SyncBatchNorm) for m in ran)
    assert model.model.backbone.norm1 in ran
    assert len(ran) == sum(isinstance(m, _BatchNorm)
                           for m in model.model.backbone.modules())


def test_top_level_data_preprocessor_reaches_the_base_model():
    """mmengine's Runner merges a config's top-level data_preprocessor into
    the outer model dict; the base model must get it (mmpretrain keeps its
    mean/std there)."""
    inner = cifar_classifier(20)
    inner.pop('data_preprocessor')
    model = LocalLearningModel(
        model=inner,
        data_preprocessor=dict(num_classes=10, mean=[1., 2., 3.],
                               std=[4., 5., 6.], to_rgb=True))
    pre = model.model.data_preprocessor
    assert pre.mean.flatten().tolist() == [1., 2., 3.]
    assert pre.to_rgb
    assert model.data_preprocessor is pre


def test_base_models_own_preprocessor_wins():
    inner = cifar_classifier(20)
    inner['data_preprocessor'] = dict(
        type='ClsDataPreprocessor', num_classes=10, mean=[9., 9., 9.],
        std=[3., 3., 3.])
    model = LocalLearningModel(
        model=inner, data_preprocessor=dict(mean=[1., 2., 3.],
                                            std=[4., 5., 6.]))
    assert model.model.data_preprocessor.mean.flatten().tolist() == [9.] * 3

