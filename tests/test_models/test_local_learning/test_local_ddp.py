"""LocalDistributedDataParallel: 2 CPU processes (gloo) against one.

The model is a CIFAR ResNet-20 with GroupNorm, cut into K=4 local modules:
its statistics do not depend on how the batch is split across processes,
so 2 processes at batch b must train exactly as 1 process at batch 2b.
One spawn runs every distributed scenario (it costs the imports); each
rank writes what it saw, and the tests compare.
"""
import copy
import os

import pytest
import torch

from man_mm.analysis.processes import free_port

B = 4  # per-rank batch
WORLD = 2
SIZE = 16


def classifier_cfg():
    import man_mm.models  # noqa: F401
    return dict(
        type='ImageClassifier',
        backbone=dict(type='man_mm.CifarResNet', depth=20,
                      norm_cfg=dict(type='GN', num_groups=4)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=10,
                               mean=[127.5] * 3, std=[64.] * 3))


def build(seed, **kwargs):
    from man_mm.models import LocalLearningModel
    torch.manual_seed(seed)
    return LocalLearningModel(model=classifier_cfg(), num_modules=4,
                              **kwargs)


def optim(model, **kwargs):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                        weight_decay=1e-4), **kwargs)


def batch(it, n, part=None):
    """Iteration ``it``'s global batch of ``n``; ``part`` (r, of) slices
    what rank r of ``of`` sees."""
    from man_mm.testing import fake_cls_batch
    data = fake_cls_batch(n, (3, SIZE, SIZE), 10, seed=it)
    if part is not None:
        r, of = part
        m = n // of
        data = {k: v[r * m:(r + 1) * m] for k, v in data.items()}
    return data


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def act_mem(model, step):
    from man_mm.utils import ActivationMemoryMeter
    with ActivationMemoryMeter.for_model(model) as meter:
        step()
    return meter.peak_bytes


def _worker(rank, port, out):
    torch.set_num_threads(1)
    import torch.distributed as dist
    from mmengine.registry import init_default_scope
    from mmengine.model import MMDistributedDataParallel, is_model_wrapper
    from man_mm.models import LocalDistributedDataParallel
    init_default_scope('mmpretrain')  # as tests/conftest.py does
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=WORLD)
    res = {}
    part = (rank, WORLD)

    # 3 iterations, per-module steps overlapped with the next module's
    # compute (default), and with blocking all-reduces and one step.
    for name, kw, wkw in [('params', {}, {}),
                          ('params_nooverlap', dict(step_per_module=False),
                           dict(overlap=False, bucket_size_mb=0.01))]:
        model = build(100 + rank, **kw)  # differs per rank before wrapping
        wrapper = LocalDistributedDataParallel(model, **wkw)
        assert is_model_wrapper(wrapper)
        res[f'{name}_start'] = state(model)
        ow = optim(model)
        for it in range(3):
            wrapper.train_step(batch(it, WORLD * B, part), ow)
        res[name] = state(model)
        res[f'{name}_stats'] = dict(wrapper.grad_sync.stats)

    # Accumulation: 2 iterations of B per rank, one step.
    model = build(100 + rank)
    wrapper = LocalDistributedDataParallel(model)
    ow = optim(model, accumulative_counts=2)
    ow.initialize_count_status(model, 0, 2)
    wrapper.train_step(batch(0, 2 * WORLD * B, (2 * rank, 2 * WORLD)), ow)
    res['accum_calls_first'] = wrapper.grad_sync.stats['allreduce_calls']
    wrapper.train_step(batch(0, 2 * WORLD * B, (2 * rank + 1, 2 * WORLD)),
                       ow)
    res['accum_calls_second'] = wrapper.grad_sync.stats['allreduce_calls']
    res['accum'] = state(model)

    # Peak activation memory per rank: the wrapper, one process at the
    # per-rank batch, and mmengine's default wrapper.
    data = batch(0, WORLD * B, part)
    single = build(100)
    res['mem_single'] = act_mem(
        single, lambda: single.train_step(copy.deepcopy(data),
                                          optim(single)))
    model = build(100)
    wrapper = LocalDistributedDataParallel(model)
    res['mem_local_ddp'] = act_mem(
        model, lambda: wrapper.train_step(copy.deepcopy(data), optim(model)))
    model = build(100)
    mmddp = MMDistributedDataParallel(module=model, device_ids=None,
                                      broadcast_buffers=False)
    res['mem_mmddp'] = act_mem(
        model, lambda: mmddp.train_step(copy.deepcopy(data), optim(model)))

    # val_step/test_step: the base model's predictions, no communication.
    calls = wrapper.grad_sync.stats['allreduce_calls']
    res['val'] = [s.pred_score for s in wrapper.val_step(copy.deepcopy(data))]
    res['val_base'] = [
        s.pred_score
        for s in wrapper.module.model.val_step(copy.deepcopy(data))]
    assert wrapper.grad_sync.stats['allreduce_calls'] == calls

    # A gradient that exists on one rank only (a data-dependent branch):
    # the same collectives on both ranks, averaged as if it were zero on
    # the other; a gradient no rank has stays None.
    from man_mm.models import GradientSync
    a, b, c = (torch.nn.Parameter(torch.zeros(3)) for _ in range(3))
    a.grad = torch.full((3, ), float(rank + 1))
    if rank == 0:
        b.grad = torch.full((3, ), 4.0)
    sync = GradientSync(bucket_size_mb=1e-5)  # one bucket per tensor
    sync.module_done(0, [a, b, c])
    sync.finish([])
    res['partial_grads'] = (a.grad.clone(), b.grad.clone(), c.grad)

    # Clear errors.
    try:
        LocalDistributedDataParallel(wrapper.module.model)
    except TypeError as e:
        res['bp_error'] = str(e)
    local = build(100)  # as after mmengine's sync_bn='torch'
    local.model.add_module('extra_bn', torch.nn.SyncBatchNorm(4))
    try:
        LocalDistributedDataParallel(local)
    except ValueError as e:
        res['syncbn_error'] = str(e)
    torch.save(res, os.path.join(out, f'rank{rank}.pth'))
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    import torch.multiprocessing as mp
    out = str(tmp_path_factory.mktemp('local_ddp'))
    mp.start_processes(_worker, args=(free_port(), out), nprocs=WORLD,
                       join=True, start_method='spawn')
    return [torch.load(os.path.join(out, f'rank{r}.pth'), weights_only=False)
            for r in range(WORLD)]


def single_process(iters, n, **kwargs):
    """Rank 0's initial model trained on the global batches."""
    model = build(100, **kwargs)
    ow = optim(model)
    for it in range(iters):
        model.train_step(batch(it, n), ow)
    return state(model)


def assert_states_close(a, b, atol=1e-5):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0,
                                   msg=lambda m: f'{k}: {m}')


def test_broadcast_from_rank0_at_start(ranks):
    # The ranks were built from different seeds; wrapping made them equal.
    assert_states_close(ranks[1]['params_start'], ranks[0]['params_start'],
                        atol=0)
    assert_states_close(ranks[0]['params_start'], build(100).state_dict(),
                        atol=0)


@pytest.mark.parametrize('name, kwargs', [
    ('params', {}), ('params_nooverlap', dict(step_per_module=False))])
def test_two_ranks_train_as_one_process_on_the_global_batch(
        ranks, name, kwargs):
    assert_states_close(ranks[0][name], ranks[1][name], atol=0)
    assert_states_close(ranks[0][name],
                        single_process(3, WORLD * B, **kwargs))
    stats = ranks[0][f'{name}_stats']
    # K-1 modules + the final reduce, per iteration; a 10 KiB bucket
    # splits modules into several all-reduces.
    if name == 'params':
        assert stats['allreduce_calls'] == 3 * 4
    else:
        assert stats['allreduce_calls'] > 3 * 4


def test_accumulation_two_iterations_equal_one_of_double_batch(ranks):
    # No communication on the iteration that does not step.
    assert ranks[0]['accum_calls_first'] == 0
    assert ranks[0]['accum_calls_second'] == 4
    assert_states_close(ranks[0]['accum'], ranks[1]['accum'], atol=0)
    # = 1 iteration at 2B per rank = 1 process at 4B.
    assert_states_close(ranks[0]['accum'],
                        single_process(1, 2 * WORLD * B))


def test_memory_saving_survives_distribution(ranks):
    for r in ranks:
        # Each rank holds what one process holds at the per-rank batch...
        assert r['mem_local_ddp'] == r['mem_single']
        # ...while mmengine's default wrapper keeps every module's graph
        # (so this test can fail).
        assert r['mem_mmddp'] > 1.5 * r['mem_single']


def test_gradient_present_on_one_rank_only(ranks):
    for res in ranks:
        a, b, c = res['partial_grads']
        torch.testing.assert_close(a, torch.full((3, ), 1.5))
        torch.testing.assert_close(b, torch.full((3, ), 2.0))
        assert c is None


def test_val_step_runs_the_base_model(ranks):
    for a, b in zip(ranks[0]['val'], ranks[0]['val_base']):
        torch.testing.assert_close(a, b)


def test_clear_errors(ranks):
    assert 'MMDistributedDataParallel' in ranks[0]['bp_error']
    assert 'no CPU kernel' in ranks[0]['syncbn_error']


def test_needs_a_process_group():
    import torch.distributed as dist
    from man_mm.models import LocalDistributedDataParallel
    if dist.is_available() and dist.is_initialized():
        pytest.skip('a process group exists in this process')
    with pytest.raises(RuntimeError, match='process group'):
        LocalDistributedDataParallel(build(0))
