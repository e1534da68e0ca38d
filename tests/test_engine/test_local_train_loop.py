"""The man_mm training loops meter memory cheaply: every N iterations."""
import pytest

from man_mm.engine.loops.local_train_loop import LocalIterBasedTrainLoop
from tests.helpers import fake_batch, local_model, sgd_wrapper


class _Runner:
    """What the loop's ``run_iter`` uses of an mmengine Runner."""

    def __init__(self, model):
        self.model = model
        self.optim_wrapper = sgd_wrapper(model)
        self.outputs = []

    def call_hook(self, name, **kwargs):
        if name == 'after_train_iter':
            self.outputs.append(kwargs['outputs'])


def _loop(model, **kwargs):
    # Built without a Runner (no data loader): only what run_iter needs.
    loop = LocalIterBasedTrainLoop.__new__(LocalIterBasedTrainLoop)
    loop._runner = _Runner(model)
    loop._iter = 0
    loop._init_act_mem(**kwargs)
    return loop


def test_memory_is_metered_on_the_first_and_every_nth_iteration():
    model = local_model(depth=20, num_modules=4)
    loop = _loop(model, measure_act_mem=True, meter_interval=3)
    for i in range(5):
        loop.run_iter(fake_batch(4, seed=i))
    metered = [i for i, out in enumerate(loop.runner.outputs)
               if 'mem_peak' in out]
    assert metered == [0, 3]
    first = loop.runner.outputs[0]
    # The true peak holds at least the weights and the saved activations.
    weights = sum(4 * p.numel() for p in model.parameters()) / 2**20
    assert first['mem_peak'] > first['act_mem'] + weights


def test_metering_can_be_switched_off_and_interval_is_checked():
    model = local_model(depth=20, num_modules=2)
    loop = _loop(model, measure_act_mem=False, meter_interval=1)
    loop.run_iter(fake_batch(4))
    assert 'mem_peak' not in loop.runner.outputs[0]
    with pytest.raises(ValueError, match='meter_interval'):
        _loop(model, measure_act_mem=True, meter_interval=0)
