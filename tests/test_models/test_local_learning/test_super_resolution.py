"""MAN on mmagic's EDSR: units, SLM aux with the global skip, feature bank."""
import copy

import pytest
import torch
from mmengine.registry import MODELS

from man_mm.models import LocalLearningModel, SLMSRAux
from man_mm.models.splitters import EDSRUnits
from man_mm.models.task_modules import FeatureBank
from man_mm.models.local_learning import local_steps
from man_mm.utils import ActivationMemoryMeter
from tests.helpers import adam_wrapper


pytestmark = pytest.mark.usefixtures('mmagic_scope')


def edsr(mid=16, blocks=4, scale=2, res_scale=1.0):
    """mmagic's EDSR model config (as in its edsr_x2c64b16 config)."""
    return dict(
        type='BaseEditModel',
        generator=dict(
            type='EDSRNet', in_channels=3, out_channels=3,
            mid_channels=mid, num_blocks=blocks, upscale_factor=scale,
            res_scale=res_scale, rgb_mean=[0.4488, 0.4371, 0.4040],
            rgb_std=[1.0, 1.0, 1.0]),
        pixel_loss=dict(type='L1Loss', loss_weight=1.0, reduction='mean'),
        train_cfg=dict(),
        test_cfg=dict(),
        data_preprocessor=dict(type='DataPreprocessor', mean=[0., 0., 0.],
                               std=[255., 255., 255.]))


def sr_batch(n=2, size=12, scale=2, seed=0):
    from man_mm.testing import fake_sr_batch
    return fake_sr_batch(n, (3, size, size), scale, seed=seed)


def _ids(module):
    return {id(p) for p in module.parameters()}


# -- units -------------------------------------------------------------------
@pytest.mark.parametrize('blocks, stem_as_unit, n_units', [
    (16, None, 16),   # EDSR-baseline: K=16 (paper)
    (32, None, 32),   # EDSR: K=32
    (4, True, 5),     # normalisation + conv_first as a unit of their own
])
def test_edsr_units_are_the_body_blocks(blocks, stem_as_unit, n_units):
    model = MODELS.build(edsr(mid=8, blocks=blocks))
    units = EDSRUnits(model.generator, stem_as_unit)
    assert len(units) == n_units
    assert units.units[-1].module is model.generator.body[-1]
    assert units.units[-1].is_stage_end


def test_units_and_tail_replay_the_generator():
    model = MODELS.build(edsr())
    gen = model.generator.eval()
    units = EDSRUnits(gen)
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        shallow = units.units[0].module[0](x)
        h = shallow
        for u in units.units:
            h = u.module(h) if u.index else u.module[1](h)
        out = gen.conv_last(gen.upsample(gen.conv_after_body(h) + shallow))
        out = out * gen.std + gen.mean
        torch.testing.assert_close(out, gen(x))


def test_default_split_and_aux():
    model = LocalLearningModel(edsr(blocks=4))
    assert model.num_modules == 4
    assert model.local_modules[0].unit_names == ['stem+body.0']
    assert all(isinstance(a, SLMSRAux) for a in model.aux_heads)
    assert model.feature_bank.taps == ['generator.conv_first']
    # One fresh residual block per aux, new weights; the tail is shared.
    aux = model.aux_heads[0]
    assert len(aux.blocks) == 1
    assert not _ids(aux.blocks) & _ids(model.model)
    assert aux.heads[0] is model.model.generator.conv_after_body
    assert {k.split('.')[0] for k in model.state_dict()} == {'model',
                                                           'aux_heads'}


@pytest.mark.parametrize('kwargs, groups', [
    (dict(num_modules=2), [['stem+body.0', 'body.1', 'body.2', 'body.3'],
                           ['body.4', 'body.5', 'body.6', 'body.7']]),
    (dict(num_modules=4), None),
    (dict(num_modules=8), None),
    (dict(split_points=[1, 5]), [['stem+body.0'],
                                 [f'body.{i}' for i in range(1, 5)],
                                 ['body.5', 'body.6', 'body.7']]),
])
def test_k_and_split_points_train(kwargs, groups):
    model = LocalLearningModel(edsr(mid=8, blocks=8), **kwargs)
    names = [lm.unit_names for lm in model.local_modules]
    assert sum(names, []) == ['stem+body.0'] + [f'body.{i}'
                                                for i in range(1, 8)]
    if groups is not None:
        assert names == groups
    out = model.train_step(sr_batch(), adam_wrapper(model))
    assert torch.isfinite(out['loss']) and torch.isfinite(out['loss_aux'])


def test_memory_balanced_split():
    model = LocalLearningModel(edsr(mid=8, blocks=8), num_modules=3,
                               balance='memory',
                               balance_input_shape=(3, 12, 12))
    sizes = [len(lm.unit_names) for lm in model.local_modules]
    assert sum(sizes) == 8 and len(sizes) == 3
    # Equal blocks: the first also holds conv_first's activations.
    assert sizes[0] <= sizes[-1]
    model.train_step(sr_batch(), adam_wrapper(model))


# -- gradients ---------------------------------------------------------------
@pytest.mark.parametrize('share_head', [True, False])
def test_gradient_isolation_on_edsr(share_head):
    """Each module's loss reaches its own blocks, its aux and (shared) the
    generator's tail, nothing else; conv_first learns in module 0 only."""
    model = LocalLearningModel(
        edsr(blocks=4), num_modules=3,
        aux=dict(type='man_mm.SLMSRAux', share_head=share_head))
    model.train()
    data = model.data_preprocessor(sr_batch(), True)
    inputs, samples = data['inputs'], data['data_samples']
    tail = set().union(*(_ids(h) for h in model.task.head_modules()))
    conv_first = _ids(model.model.generator.conv_first)
    for step in local_steps(model, inputs, samples):
        lm = step.module
        model.zero_grad(set_to_none=True)
        model.parse_losses(step.losses)[0].backward()
        own = _ids(lm.body) | _ids(lm.aux)
        last = lm.index == model.num_modules - 1
        for name, p in model.named_parameters():
            if id(p) in own or (id(p) in tail and (share_head or last)):
                assert p.grad is not None and p.grad.abs().sum() > 0, \
                    f'{name} got no gradient from module {lm.index}'
            else:
                assert p.grad is None, \
                    f'loss of module {lm.index} leaked into {name}'
        # conv_first is module 0's: only its loss reaches it.
        assert (lm.index == 0) == bool(conv_first & own)
    if not share_head:
        assert all(not _ids(a.own_heads) & tail for a in model.aux_heads)


def test_k1_reproduces_bp():
    """K=1 is BP: same parameters after 3 Adam steps."""
    torch.manual_seed(0)
    bp = MODELS.build(edsr(blocks=4))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = adam_wrapper(bp), adam_wrapper(local)
    for step in range(3):
        batch = sr_batch(seed=step)
        bp.train_step(copy.deepcopy(batch), bp_optim)
        local.train_step(copy.deepcopy(batch), local_optim)
    for (name, p), q in zip(bp.named_parameters(),
                            local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=name)


def test_checkpointing_inside_local_steps_keeps_the_gradients():
    torch.manual_seed(0)
    plain = LocalLearningModel(edsr(blocks=4), num_modules=2, with_cp=False)
    cp = copy.deepcopy(plain)
    # What LocalLearningModel(with_cp=True) sets: every unit and every
    # aux's SLM block checkpointed (run_blocks).
    for lm in cp.local_modules:
        lm.with_cp = True
        if hasattr(lm.aux, 'with_cp'):
            lm.aux.with_cp = True
    recomputed = []
    cp.aux_heads[0].blocks[0].conv1.register_forward_hook(
        lambda *args: recomputed.append(True))
    grads = []
    for model in (plain, cp):
        seen = {}
        optim = adam_wrapper(model, lr=0.0)
        optim.step = lambda **kw: seen.update(
            {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None})
        model.train_step(sr_batch(), optim)
        grads.append(seen)
    assert len(recomputed) == 2  # forward, then again in the backward
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name],
                                   atol=1e-6, rtol=0, msg=name)


# -- feature bank ------------------------------------------------------------
def test_bank_holds_the_shallow_feature_detached_every_iteration():
    from man_mm.engine import FeatureBankHook
    model = LocalLearningModel(edsr(blocks=4), num_modules=2)
    optim = adam_wrapper(model)
    model.feature_bank.attach()
    model.feature_bank.put('stale', torch.zeros(1))
    batch = sr_batch(seed=0)
    gen = model.model.generator
    conv_first = copy.deepcopy(gen.conv_first)  # the optimizer updates it
    model.train_step(copy.deepcopy(batch), optim)
    bank = model.feature_bank
    assert list(bank) == ['generator.conv_first']  # cleared, then refilled
    shallow = bank['generator.conv_first']
    assert shallow.shape == (2, 16, 12, 12) and not shallow.requires_grad
    # conv_first's output on this iteration's normalised input.
    inputs = model.data_preprocessor(copy.deepcopy(batch), True)['inputs']
    with torch.no_grad():
        expected = conv_first((inputs - gen.mean) / gen.std)
    torch.testing.assert_close(shallow, expected)
    # The runner's hook drops it after the iteration; the next one refills.
    runner = type('Runner', (), {})()
    runner.model = model
    runner.message_hub = type('Hub', (), {
        'update_scalar': lambda self, k, v: None})()
    FeatureBankHook().after_train_iter(runner, 0)
    assert len(bank) == 0
    model.train_step(sr_batch(seed=1), optim)
    assert not torch.equal(bank['generator.conv_first'], shallow)


def test_adapt_false_has_neither_block_nor_global_skip():
    model = LocalLearningModel(
        edsr(blocks=4), num_modules=2,
        aux=dict(type='man_mm.SLMSRAux', adapt=False))
    aux = model.aux_heads[0]
    assert len(aux.blocks) == 0
    data = model.data_preprocessor(sr_batch(), True)
    h = torch.rand(2, 16, 12, 12)
    # Reads nothing from the bank: an empty one is fine ...
    losses = aux(h, data['data_samples'], FeatureBank())
    assert torch.isfinite(losses['loss'])
    # ... where MAN's aux needs the shallow feature.
    man = LocalLearningModel(edsr(blocks=4), num_modules=2).aux_heads[0]
    with pytest.raises(KeyError, match='generator.conv_first'):
        man(h, data['data_samples'], FeatureBank())
    model.train_step(sr_batch(), adam_wrapper(model))


# -- errors and memory -------------------------------------------------------
def test_unsupported_generator_is_refused_with_the_supported_ones():
    cfg = edsr()
    cfg['generator'] = dict(type='ResnetGenerator', in_channels=3,
                            out_channels=3, base_channels=8, num_blocks=1)
    with pytest.raises(TypeError) as err:
        LocalLearningModel(cfg)
    msg = str(err.value)
    assert 'cannot split generator ResnetGenerator' in msg
    assert 'mmagic.EDSRNet' in msg and 'ResNetUnits' in msg
    assert 'register_module' in msg  # how to add one


def test_unsupported_model_is_refused_with_the_supported_adapters():
    from man_mm.models.task_adapters import build_task_adapter
    with pytest.raises(TypeError) as err:
        build_task_adapter(torch.nn.Conv2d(1, 1, 1))
    msg = str(err.value)
    for name in ('ClsTaskAdapter', 'DetTaskAdapter', 'EditTaskAdapter',
                 'BaseEditModel'):
        assert name in msg


def _act_mem(model, batch, optim):
    with ActivationMemoryMeter.for_model(model) as meter:
        model.train_step(copy.deepcopy(batch), optim)
    return meter.peak_bytes


def test_edsr_baseline_k16_peaks_below_45_percent_of_bp():
    """EDSR-baseline x2, K=16, batch 16x3x48x48: <= 45% of BP's
    activations (paper §5.3: MAN saves 51% of the GPU memory)."""
    torch.manual_seed(0)
    bp = MODELS.build(edsr(mid=64, blocks=16))
    local = LocalLearningModel(copy.deepcopy(bp))
    assert local.num_modules == 16
    batch = sr_batch(16, 48)
    bp_mem = _act_mem(bp, batch, adam_wrapper(bp, 0.0))
    local_mem = _act_mem(local, batch, adam_wrapper(local, 0.0))
    ratio = local_mem / bp_mem
    assert bp_mem > 300 * 2**20  # 16 blocks x (input + ReLU) at 64x48x48
    assert ratio <= 0.45, f'MAN/BP activation memory = {ratio:.2%}'
