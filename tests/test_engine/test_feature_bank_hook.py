"""The feature bank: filled by forward hooks, detached, refreshed."""
import pytest
import torch

from man_mm.engine import FeatureBankHook
from man_mm.models import FeatureBank
from tests.helpers import fake_batch, local_model, sgd_wrapper


def test_bank_records_stage_outputs_detached_during_training_only():
    model = local_model(depth=20, feature_bank=dict(taps=['stages']))
    bank = model.feature_bank
    assert bank.taps == ['stage0', 'stage1', 'stage2']

    seen = {}
    original = model.aux_heads[5].forward

    def spy(x, samples, bank_):
        seen.update({k: bank_[k] for k in bank_})
        return original(x, samples, bank_)

    model.aux_heads[5].forward = spy          # a module in stage 1
    model.train_step(fake_batch(4), sgd_wrapper(model))
    # Module 5 (layer2.1) sees stage0 from earlier modules, not later ones.
    assert set(seen) == {'stage0'}
    assert seen['stage0'].shape == (4, 16, 32, 32)
    assert not seen['stage0'].requires_grad
    assert seen['stage0'].grad_fn is None
    # After the step the bank holds this iteration's stage outputs.
    assert [bank[k].shape[1:] for k in bank] == [(16, 32, 32), (32, 16, 16),
                                                 (64, 8, 8)]

    # Inference does not record.
    bank.clear()
    model.eval()
    data = model.data_preprocessor(fake_batch(2), False)
    model(data['inputs'], data['data_samples'], mode='predict')
    assert len(bank) == 0


def test_bank_is_refreshed_every_iteration():
    model = local_model(depth=20, feature_bank=dict(taps=['stages']))
    optim = sgd_wrapper(model)
    model.train_step(fake_batch(4, seed=0), optim)
    first = model.feature_bank['stage2'].clone()
    model.train_step(fake_batch(4, seed=1), optim)
    assert not torch.equal(first, model.feature_bank['stage2'])


def test_bank_rejects_unknown_reads():
    bank = FeatureBank()
    with pytest.raises(KeyError, match='no entry'):
        bank['stage3']


class _Runner:
    """The part of mmengine's Runner the hook touches."""

    def __init__(self, model):
        from mmengine.logging import MessageHub
        self.model = model
        self.message_hub = MessageHub.get_instance('test_bank_hook')


def test_hook_life_cycle():
    model = local_model(depth=20, feature_bank=dict(taps=['stages']))
    runner, hook = _Runner(model), FeatureBankHook()
    hook.before_train(runner)
    assert model.feature_bank._handles
    model.train_step(fake_batch(4), sgd_wrapper(model))
    hook.after_train_iter(runner, 0)
    mib = runner.message_hub.get_scalar('train/bank_mem').current()
    assert mib == pytest.approx(4 * (16 * 32 * 32 + 32 * 16 * 16 +
                                     64 * 8 * 8) * 4 / 2**20)
    assert len(model.feature_bank) == 0
    hook.after_train(runner)
    assert not model.feature_bank._handles


def test_hook_refuses_models_without_a_bank():
    from mmengine.registry import MODELS
    from tests.helpers import cifar_classifier
    runner = _Runner(MODELS.build(cifar_classifier()))
    with pytest.raises(TypeError, match='FeatureBankHook needs'):
        FeatureBankHook().before_train(runner)
