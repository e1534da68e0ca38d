"""mmagic's RDN (whose global feature fusion reads every RDB's output) and
SRCNN, trained locally."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import MODELS

from man_mm.models import LocalLearningModel
from man_mm.models.local_learning import local_steps
from man_mm.models.splitters import build_units
from man_mm.models.task_adapters import EditTaskAdapter
from man_mm.testing import assert_gradient_isolated, fake_sr_batch
from man_mm.utils import ActivationMemoryMeter, TotalMemoryMeter
from tests.helpers import adam_wrapper, edit_model, load_tool


pytestmark = pytest.mark.usefixtures('mmagic_scope')


def _rdn(scale, blocks=4):
    return dict(type='RDNNet', in_channels=3, out_channels=3,
                mid_channels=16, num_blocks=blocks, upscale_factor=scale,
                num_layers=2, channel_growth=8)


#: name -> (generator config, scale, units)
GENERATORS = {
    'rdn_x2': (_rdn(2), 2, 4),
    'rdn_x3': (_rdn(3), 3, 4),
    'rdn_x4': (_rdn(4), 4, 4),
    'rdn_1block': (_rdn(2, blocks=1), 2, 1),
    'srcnn': (dict(type='SRCNNNet', channels=(3, 16, 8, 3),
                   kernel_sizes=(9, 1, 5), upscale_factor=2), 2, 2),
}
#: The slower checks: one RDN and SRCNN.
MAIN = ['rdn_x2', 'srcnn']


def _cfg(name):
    return edit_model(copy.deepcopy(GENERATORS[name][0]))


def _batch(name, n=2, seed=0, size=12):
    return fake_sr_batch(n, (3, size, size), GENERATORS[name][1], seed=seed)


def _k(name):
    """Local modules for the checks: RDN's last one spans two RDBs."""
    return 3 if name.startswith('rdn') else 2


@pytest.mark.parametrize('stem_as_unit', [False, True])
@pytest.mark.parametrize('name', list(GENERATORS))
def test_units_and_tail_replay_the_generator(name, stem_as_unit):
    torch.manual_seed(0)
    model = MODELS.build(_cfg(name))
    gen = model.generator.eval()
    units = build_units(gen, stem_as_unit=stem_as_unit)
    assert len(units) == GENERATORS[name][2] + stem_as_unit
    task = EditTaskAdapter(model)
    rdn = name.startswith('rdn')
    if rdn:
        assert task.required_taps == ('generator.sfe1', ) + tuple(
            f'generator.rdbs.{i}' for i in range(len(gen.rdbs) - 1))
        assert task.head_names == ('gff', 'upscale', 'output')
    else:
        assert task.required_taps == () and task.head_names == ('conv3', )
    x = torch.rand(2, 3, 12, 12)
    with torch.no_grad():
        expected = gen(x)
        h, outs = x, []
        for u in units.units:
            h = u.module(h)
            outs.append(h)
        heads = dict(zip(task.head_names, task.head_modules()))
        # RDN's gff reads every RDB output; SRCNN's conv3 the last.
        feats = outs[len(outs) - len(gen.rdbs):] if rdn else h
        shallow = gen.sfe1(x) if rdn else None
        out = task._tail(gen, heads, feats, shallow, None,
                         SimpleNamespace(gt_img=expected))
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    # Every generator parameter is a unit's or the tail's.
    owned = {id(p) for u in units.units for p in u.module.parameters()} | \
        {id(p) for m in task.head_modules() for p in m.parameters()}
    assert owned == {id(p) for p in gen.parameters()}


@pytest.mark.parametrize('share_head', [True, False])
@pytest.mark.parametrize('name', MAIN)
def test_train_step_and_gradient_isolation(name, share_head):
    torch.manual_seed(0)
    model = LocalLearningModel(
        _cfg(name), num_modules=_k(name),
        aux=dict(type='man_mm.SLMSRAux', share_head=share_head))
    assert model.num_modules == _k(name)
    assert all(len(a.blocks) == 1 for a in model.aux_heads)
    assert model.feature_bank.taps == list(model.task.required_taps)
    assert_gradient_isolated(model, _batch(name), shared_head=share_head)
    out = model.train_step(_batch(name, seed=1), adam_wrapper(model))
    assert torch.isfinite(out['loss'])


def test_rdn_one_module_per_unit_with_the_stem_apart():
    """K = 5 with the stem (sfe1, sfe2) a module of its own: its aux's SLM
    output fills every gff slot, and isolation holds for every module."""
    torch.manual_seed(0)
    model = LocalLearningModel(_cfg('rdn_x2'), stem_as_unit=True)
    assert model.num_modules == 5
    assert_gradient_isolated(model, _batch('rdn_x2'), shared_head=True)
    out = model.train_step(_batch('rdn_x2', seed=1), adam_wrapper(model))
    assert torch.isfinite(out['loss'])


def test_rdn_gff_reads_bank_own_and_slm_features():
    """The gff input of every module: earlier RDBs from the bank (detached),
    the module's own RDBs live, the SLM output for each later RDB."""
    torch.manual_seed(0)
    model = LocalLearningModel(_cfg('rdn_x2'), num_modules=3)  # 1, 1, 2
    task, seen = model.task, []
    dense = task.dense_features

    def spy(feats, bank):
        out = dense(feats, bank)
        seen.append((feats, out, {k: bank[k] for k in task.dense_keys
                                  if k in bank}))
        return out

    task.dense_features = spy
    data = model.data_preprocessor(_batch('rdn_x2'), True)
    slm_out = []
    for aux in model.aux_heads:
        aux.blocks[0].register_forward_hook(
            lambda m, i, o: slm_out.append(o))
    for step in local_steps(model, data['inputs'], data['data_samples']):
        model.parse_losses(step.losses)[0].backward()
    owns = [[0], [1], [2, 3]]
    assert len(seen) == 3
    for m, (feats, slots, banked) in enumerate(seen):
        assert len(slots) == 4 and slots[-1] is feats
        for j in range(3):
            if j < owns[m][0]:  # an earlier module's: detached, banked
                assert not slots[j].requires_grad
                assert slots[j] is banked[f'generator.rdbs.{j}']
            elif j in owns[m]:  # the module's own: live
                assert slots[j].requires_grad
                torch.testing.assert_close(
                    slots[j], banked[f'generator.rdbs.{j}'])
            else:  # not run yet: the SLM output stands in
                assert slots[j] is feats is slm_out[m]


@pytest.mark.parametrize('with_cp', [False, True])
def test_rdn_last_module_gradient_is_bp_gradient(with_cp):
    """The real head reads the earlier RDBs from the bank and its own live:
    the last module's parameters get exactly BP's gradient."""
    torch.manual_seed(0)
    bp = MODELS.build(_cfg('rdn_x2'))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=3,
                               with_cp=with_cp)
    batch = _batch('rdn_x2')
    data = bp.data_preprocessor(copy.deepcopy(batch), True)
    bp.train()
    bp.zero_grad()
    bp(**data, mode='loss')['loss'].backward()
    local.train()
    local.zero_grad()
    data = local.data_preprocessor(copy.deepcopy(batch), True)
    for step in local_steps(local, data['inputs'], data['data_samples']):
        local.parse_losses(step.losses)[0].backward()
    last = {f'generator.rdbs.{i}.' for i in (2, 3)}
    checked = 0
    for (name, p), q in zip(bp.named_parameters(), local.model.parameters()):
        if any(name.startswith(s) for s in last):
            torch.testing.assert_close(q.grad, p.grad, msg=name)
            checked += 1
    assert checked > 0


def test_adapt_false_trains_rdn_and_refuses_srcnn():
    """Paper's "Adapt" off: no SLM, no bank; RDN's module output fills
    every gff slot. SRCNN's conv1 output is wider than conv3 reads."""
    aux = dict(type='man_mm.SLMSRAux', adapt=False)
    model = LocalLearningModel(_cfg('rdn_x2'), num_modules=2, aux=aux)
    assert len(model.aux_heads[0].blocks) == 0
    out = model.train_step(_batch('rdn_x2'), adam_wrapper(model))
    assert torch.isfinite(out['loss'])
    with pytest.raises(ValueError, match=r"'conv1' \(16 channels\)"):
        LocalLearningModel(_cfg('srcnn'), num_modules=2, aux=aux)


@pytest.mark.parametrize('name', MAIN + ['rdn_1block'])
def test_k1_reproduces_bp(name):
    torch.manual_seed(0)
    bp = MODELS.build(_cfg(name))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = adam_wrapper(bp), adam_wrapper(local)
    for step in range(3):
        batch = _batch(name, seed=step)
        bp.train_step(copy.deepcopy(batch), bp_optim)
        local.train_step(copy.deepcopy(batch), local_optim)
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=pname)


def _peaks(name, k):
    """Activation and true peaks of one training step, BP and local."""
    act, true = {}, {}
    batch = _batch(name, n=4)
    for key in ('bp', 'local'):
        torch.manual_seed(0)
        model = MODELS.build(_cfg(name)) if key == 'bp' else \
            LocalLearningModel(_cfg(name), num_modules=k)
        optim = adam_wrapper(model, 0.0)
        model.train_step(copy.deepcopy(batch), optim)  # optimizer state
        with ActivationMemoryMeter.for_model(model) as meter:
            model.train_step(copy.deepcopy(batch), optim)
        act[key] = meter.peak_bytes
        with TotalMemoryMeter.for_training(model, optim) as meter:
            model.train_step(copy.deepcopy(batch), optim)
        true[key] = meter.peak_bytes
    return act, true


def test_rdn_local_peaks_are_below_bp():
    act, true = _peaks('rdn_x2', 4)
    assert act['local'] < 0.8 * act['bp'], act
    assert true['local'] < true['bp'], true


def test_srcnn_local_peaks_are_bp_peaks():
    """SRCNN has two units, and module 0's aux -- a fresh relu(conv2), the
    whole rest -- is as large as what it stands in for: local learning
    cannot lower its peak (measured: activations +4 bytes; true peak
    +0.3%, all of it the aux's fresh conv2 with its gradient and Adam
    state -- the dynamic peak is BP's to the byte)."""
    act, true = _peaks('srcnn', 2)
    assert act['local'] <= 1.01 * act['bp'], act
    assert true['local'] <= 1.01 * true['bp'], true


@pytest.mark.parametrize('name', MAIN)
def test_stripped_checkpoint_predicts_like_the_local_model(name):
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = LocalLearningModel(_cfg(name), num_modules=_k(name))
    local.train_step(_batch(name), adam_wrapper(local, 0.01))
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(_cfg(name))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = _batch(name, n=1, seed=3)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    assert len(ours) == len(theirs) == 1
    torch.testing.assert_close(ours[0].output.pred_img.data,
                               theirs[0].output.pred_img.data)


def test_coverage_reason_is_gone():
    """RDN and SRCNN are no longer refused: their splitters accept them."""
    from mmagic.registry import MODELS as MMAGIC_MODELS

    from man_mm.models.splitters import RDNNetUnits, SRCNNNetUnits
    from man_mm.registry import UNIT_SPLITTERS, find_registered
    for name, splitter in (('RDNNet', RDNNetUnits),
                           ('SRCNNNet', SRCNNNetUnits)):
        gen = MODELS.build(GENERATORS['rdn_x2' if name == 'RDNNet' else
                                      'srcnn'][0])
        assert find_registered(UNIT_SPLITTERS, gen) is splitter
        cls = MMAGIC_MODELS.get(name)
        assert splitter.refusal(cls, {}) is None
