"""The pipeline's plan: the split, the bank routes, the profile that leaves
the model untouched, and the errors (no processes needed)."""
import socket

import pytest
import torch
from mmengine.registry import init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.models.local_learning import plan_stages, profile_modules
from tests.helpers import det_batch, fake_batch, local_model, retinanet


def test_balanced_split_minimises_the_slowest_stage():
    plan = plan_stages(4, 2, {}, [1., 1., 1., 3.])
    assert plan.bounds == [(0, 2), (3, 3)]
    assert plan.predicted(0) == 3. and plan.predicted(1) == 3.
    assert 'predicted bubble fraction 0.0%' in plan.describe(
        [['a'], ['b'], ['c'], ['d']])


def test_bank_entries_go_only_to_stages_that_read_them():
    readers = {'stage0': {1, 3}, 'stage1': {2}, 'inputs': {0, 1, 2, 3}}
    plan = plan_stages(4, 3, readers, stages=[[0], [1, 2], [3]])
    assert plan.sends == [['inputs', 'stage0', 'stage1'],
                          ['inputs', 'stage0'], []]


@pytest.mark.parametrize('stages, match', [
    ([[0, 1], [3]], 'every local module'),
    ([[0], [1], [2, 3]], 'num_stages=2'),
])
def test_explicit_split_is_checked(stages, match):
    with pytest.raises(ValueError, match=match):
        plan_stages(4, 2, {}, stages=stages)


def test_more_stages_than_modules_is_refused():
    with pytest.raises(ValueError, match='num_stages=5 is larger'):
        plan_stages(4, 5, {})


def test_profile_leaves_the_model_untouched_and_records_bank_reads():
    init_default_scope('mmdet')
    model = LocalLearningModel(model=retinanet(), num_modules=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = model.data_preprocessor(det_batch(), True)
    rng = torch.get_rng_state()
    times, readers = profile_modules(model, batch['inputs'],
                                     batch['data_samples'], repeats=1)
    assert len(times) == 3 and all(t > 0 for t in times)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
    # The detector's neck reads every stage output it takes, in the last
    # module; the SLM aux nets read the earlier stages.
    assert readers and all(k.startswith('stage') for k in readers)
    assert all(2 in mods for mods in readers.values())


def test_wrapper_refuses_what_cannot_be_split():
    import torch.distributed as dist
    from man_mm.models import LocalPipelineParallel
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=0, world_size=1)
    try:
        model = local_model(num_modules=2)
        with pytest.raises(ValueError, match='must divide the number of '
                           'processes'):
            LocalPipelineParallel(model, num_stages=2)
        with pytest.raises(TypeError, match='BP model'):
            LocalPipelineParallel(torch.nn.Linear(2, 2), num_stages=1)
        # One stage in one process is sequential training.
        wrapper = LocalPipelineParallel(model, num_stages=1)
        with pytest.raises(RuntimeError, match="man_mm's train loop"):
            wrapper.train_step(fake_batch(), None)
    finally:
        dist.destroy_process_group()
