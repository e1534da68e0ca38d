"""What a local step keeps alive: per-module optimizer steps and
checkpointing inside local steps (issue: detection must really save
memory). Each switch must leave the result unchanged and lower the true
peak (TotalMemoryMeter: weights, optimizer state, gradients, activations,
temporaries and recomputed tensors)."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.utils import TotalMemoryMeter
from tests.helpers import cifar_classifier, fake_batch, sgd_wrapper


def _nesterov(model, **kwargs):
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                        nesterov=True, weight_decay=1e-4), **kwargs)


def _train(model, optim, steps=3, batch=fake_batch, **kw):
    for i in range(steps):
        model.train_step(batch(8, seed=i, **kw), optim)


def _assert_same_state(a, b, atol=1e-6):
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        if p.dtype.is_floating_point:
            torch.testing.assert_close(p, q, atol=atol, rtol=0, msg=name)
        else:
            assert torch.equal(p, q), name


def _without_and_with_cp(model_cfg, num_modules, **kwargs):
    """The same local model (same weights) without and with checkpointing
    inside the local steps."""
    torch.manual_seed(0)
    plain = LocalLearningModel(model_cfg, num_modules=num_modules,
                               with_cp=False, **kwargs)
    cp = copy.deepcopy(plain)
    cp._setup_checkpointing(True)
    return plain, cp


def _true_peak(model, optim, batch):
    model.train_step(copy.deepcopy(batch), optim)  # optimizer state exists
    with TotalMemoryMeter.for_training(model, optim) as meter:
        model.train_step(copy.deepcopy(batch), optim)
    return meter.peak_bytes


# -- stepping each module after its backward ---------------------------------
def test_step_per_module_is_on_exactly_when_it_changes_nothing():
    model = LocalLearningModel(cifar_classifier(20), num_modules=4)
    assert model.steps_per_module(sgd_wrapper(model))
    assert not model.steps_per_module(
        sgd_wrapper(model, clip_grad=dict(max_norm=1.0)))
    assert not model.steps_per_module(
        sgd_wrapper(model, accumulative_counts=2))
    off = LocalLearningModel(cifar_classifier(20), num_modules=4,
                             step_per_module=False)
    assert not off.steps_per_module(sgd_wrapper(off))


@pytest.mark.parametrize('aux', [
    dict(type='man_mm.SLMClsAux'),
    dict(type='man_mm.SLMClsAux', share_head=False),
    dict(type='man_mm.InfoProClsAux')])
def test_step_per_module_gives_the_same_parameters(aux):
    torch.manual_seed(0)
    per_iter = LocalLearningModel(cifar_classifier(20), num_modules=4,
                                  aux=aux, step_per_module=False)
    per_module = copy.deepcopy(per_iter)
    per_module.step_per_module = None
    _train(per_iter, _nesterov(per_iter))
    optim = _nesterov(per_module)
    assert per_module.steps_per_module(optim)
    _train(per_module, optim)
    _assert_same_state(per_iter, per_module)


def test_step_per_module_frees_gradients_and_lowers_the_true_peak():
    torch.manual_seed(0)
    per_iter = LocalLearningModel(cifar_classifier(32), num_modules=16,
                                  step_per_module=False)
    per_module = copy.deepcopy(per_iter)
    per_module.step_per_module = None
    batch = fake_batch(16)

    def grads_at_steps(model):
        optim = _nesterov(model)
        alive, step = [], optim.step

        def spy(**kwargs):
            alive.append(sum(4 * p.grad.numel() for p in model.parameters()
                             if p.grad is not None))
            step(**kwargs)

        optim.step = spy
        model.train_step(copy.deepcopy(batch), optim)
        first_iteration = list(alive)
        return first_iteration, _true_peak(model, optim, batch)

    (held,), peak_iter = grads_at_steps(per_iter)
    freed, peak_module = grads_at_steps(per_module)
    trainable = sum(4 * p.numel() for p in per_iter.parameters()
                    if p.requires_grad)
    last = per_module.local_modules[-1]
    shared = sum(4 * p.numel() for m in (last.body, per_module.model.head)
                 for p in m.parameters())
    # One step per iteration holds every gradient; per module, the last
    # step holds only the last module's and the shared head's.
    assert held == trainable
    assert len(freed) == 16 and freed[-1] == shared
    assert max(freed) < held / 4
    assert peak_module < peak_iter


def test_forced_step_per_module_clips_each_module_on_its_own():
    torch.manual_seed(0)
    model = LocalLearningModel(cifar_classifier(20), num_modules=4,
                               step_per_module=True)
    optim = sgd_wrapper(model, clip_grad=dict(max_norm=1e-3))
    assert model.steps_per_module(optim)
    norms = []
    clip = optim.clip_func
    optim.clip_func = lambda params, **kw: norms.append(len(params)) or \
        clip(params, **kw)
    model.train_step(fake_batch(8), optim)
    # One clip per module, each over that module's parameters only.
    assert len(norms) == 4
    assert sum(norms) == sum(1 for p in model.parameters()
                             if p.requires_grad)


def test_forced_step_per_module_refuses_amp_and_accumulation():
    model = LocalLearningModel(cifar_classifier(20), num_modules=4,
                               step_per_module=True)
    with pytest.raises(ValueError, match='accumulation'):
        model.train_step(fake_batch(8),
                         sgd_wrapper(model, accumulative_counts=2))


# -- checkpointing inside local steps ----------------------------------------
def _grads_after_one_step(model, batch):
    seen = {}
    optim = sgd_wrapper(model, lr=0.0)
    optim.step = lambda **kw: seen.update(
        {n: p.grad.clone() for n, p in model.named_parameters()
         if p.grad is not None})
    model.train_step(copy.deepcopy(batch), optim)
    return seen


def test_checkpointing_gives_the_same_gradients_and_bn_statistics():
    plain, cp = _without_and_with_cp(cifar_classifier(20), 3)
    batch = fake_batch(8)
    g_plain, g_cp = (_grads_after_one_step(m, batch) for m in (plain, cp))
    assert g_plain.keys() == g_cp.keys() and g_plain
    for name in g_plain:
        torch.testing.assert_close(g_cp[name], g_plain[name], atol=1e-5,
                                   rtol=0, msg=name)
    # Recomputation must not update running statistics a second time.
    _assert_same_state(plain, cp, atol=1e-6)


def test_checkpointing_lowers_the_true_peak():
    """Activations dominate (ResNet-32, batch 64): keeping only unit and
    SLM block inputs while the head runs lowers the true total."""
    plain, cp = _without_and_with_cp(cifar_classifier(32), 4)
    batch = fake_batch(64)
    peaks = [_true_peak(m, _nesterov(m), batch) for m in (plain, cp)]
    assert peaks[1] < 0.8 * peaks[0], peaks


def test_base_config_with_cp_is_honoured_in_local_steps():
    cfg = cifar_classifier(20)
    cfg['backbone']['with_cp'] = True
    model = LocalLearningModel(cfg, num_modules=3)
    assert model.with_cp
    assert all(lm.with_cp and lm.aux.with_cp
               for lm in model.local_modules[:-1])
    # Blocks' own with_cp is off: man_mm recomputes each unit once.
    assert not any(getattr(m, 'with_cp', False)
                   for lm in model.local_modules for unit in lm.body
                   for m in unit.modules())


class TestDetector:

    @pytest.fixture(autouse=True)
    def _mmdet_scope(self):
        init_default_scope('mmdet')
        yield

    @staticmethod
    def _models(num_modules=3, **kwargs):
        from tests.helpers import retinanet
        return _without_and_with_cp(retinanet(depth=18), num_modules,
                                    **kwargs)

    def test_checkpointing_gives_the_same_gradients(self):
        from tests.helpers import det_batch
        plain, cp = self._models()
        batch = det_batch(2, 128)
        g_plain, g_cp = (_grads_after_one_step(m, batch) for m in (plain, cp))
        assert g_plain.keys() == g_cp.keys() and g_plain
        for name in g_plain:
            torch.testing.assert_close(g_cp[name], g_plain[name], atol=1e-5,
                                       rtol=1e-4, msg=name)

    def test_step_per_module_gives_the_same_detector(self):
        from tests.helpers import det_batch
        plain, _ = self._models(step_per_module=False)
        per_module = copy.deepcopy(plain)
        per_module.step_per_module = None
        for model in (plain, per_module):
            optim = OptimWrapper(torch.optim.AdamW(model.parameters(),
                                                   lr=1e-3))
            for i in range(3):
                model.train_step(det_batch(2, 128, seed=i), optim)
        _assert_same_state(plain, per_module, atol=1e-5)

    def test_step_per_module_lowers_the_true_peak(self):
        """One module per block: without per-module steps the gradients of
        every block and aux net pile up until the end of the iteration."""
        from tests.helpers import det_batch
        batch = det_batch(2, 128)
        per_iter, _ = self._models(num_modules=None, step_per_module=False)
        per_module = copy.deepcopy(per_iter)
        per_module.step_per_module = None
        assert _true_peak(per_module, sgd_wrapper(per_module), batch) < \
            _true_peak(per_iter, sgd_wrapper(per_iter), batch)
