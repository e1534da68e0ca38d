"""LocalPipelineParallel: CPU processes (gloo) against sequential training.

Each world size is one spawn that runs its scenarios (spawning costs the
imports); every rank writes what it saw and the tests compare with
``local_train_step`` in this process:

* 2 processes: 2 stages with own heads (BatchNorm ResNet, profiled split),
  2 stages with MAN's shared head, and a save/resume round trip;
* 3 processes: 3 stages with own heads (explicit split);
* 4 processes: 2 stages x 2 data-parallel replicas (GroupNorm ResNet), which
  must equal one process on the concatenated batch.
"""
import os

import pytest
import torch

from man_mm.analysis.processes import free_port

B = 4
SIZE = 16
ITERS = 3


def classifier_cfg(norm='BN'):
    import man_mm.models  # noqa: F401
    norm_cfg = dict(type='BN') if norm == 'BN' else dict(type='GN',
                                                        num_groups=4)
    return dict(
        type='ImageClassifier',
        backbone=dict(type='man_mm.CifarResNet', depth=20, norm_cfg=norm_cfg),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=10,
                               mean=[127.5] * 3, std=[64.] * 3))


def build(seed, norm='BN', share_head=False, k=4):
    from man_mm.models import LocalLearningModel
    torch.manual_seed(seed)
    return LocalLearningModel(
        model=classifier_cfg(norm), num_modules=k,
        aux=dict(type='man_mm.SLMClsAux', share_head=share_head))


def optim(model):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                        weight_decay=1e-4))


def batch(it, n, part=None):
    from man_mm.testing import fake_cls_batch
    data = fake_cls_batch(n, (3, SIZE, SIZE), 10, seed=it)
    if part is not None:
        r, of = part
        m = n // of
        data = {k: v[r * m:(r + 1) * m] for k, v in data.items()}
    return data


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _pipeline(model, ow, iters, start=0, n=B, part=None, **kwargs):
    from man_mm.models import LocalPipelineParallel
    wrapper = LocalPipelineParallel(model, **kwargs)
    wrapper.data_sharded = True  # no Runner loop here
    for it in range(start, start + iters):
        wrapper.train_step(batch(it, n, part), ow)
    wrapper.finish()
    # What man_mm's loops do before a checkpoint is saved (on rank 0).
    wrapper.gather_for_checkpoint()
    return wrapper


def _worker(rank, world, port, out):
    import torch.distributed as dist
    from mmengine.registry import init_default_scope
    torch.set_num_threads(1)
    init_default_scope('mmpretrain')  # as tests/conftest.py does
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world)
    seen = {}
    if world == 2:
        # Different seeds per rank: the wrapper makes them equal.
        model = build(100 + rank)
        ow = optim(model)
        wrapper = _pipeline(model, ow, ITERS, num_stages=2)
        seen['own'] = state(model)
        seen['own_plan'] = wrapper.plan
        seen['own_link'] = dict(wrapper.link.stats)

        model = build(100, share_head=True)
        ow = optim(model)
        _pipeline(model, ow, ITERS, num_stages=2, stages=[[0, 1], [2, 3]])
        seen['shared'] = state(model)

        # Save after 2 iterations, resume in a fresh model, run the 3rd.
        model = build(100)
        ow = optim(model)
        _pipeline(model, ow, ITERS - 1, num_stages=2, stages=[[0, 1], [2, 3]])
        ckpt = dict(state_dict=model.state_dict(),
                    optimizer=ow.state_dict())
        path = os.path.join(out, 'ckpt.pth')
        if rank == 0:
            torch.save(ckpt, path)
        dist.barrier()
        ckpt = torch.load(path, weights_only=False)
        seen['ckpt_state_keys'] = sorted(ckpt['optimizer']['state'])
        model = build(7)
        ow = optim(model)
        model.load_state_dict(ckpt['state_dict'])
        ow.load_state_dict(ckpt['optimizer'])
        _pipeline(model, ow, 1, start=ITERS - 1, num_stages=2,
                  stages=[[0, 1], [2, 3]])
        seen['resumed'] = state(model)
    elif world == 3:
        model = build(100)
        ow = optim(model)
        _pipeline(model, ow, ITERS, num_stages=3,
                  stages=[[0], [1, 2], [3]])
        seen['own3'] = state(model)
    else:
        # Rank d * 2 + p is replica d: it reads half d of the batch.
        model = build(100, norm='GN')
        ow = optim(model)
        wrapper = _pipeline(model, ow, ITERS, n=2 * B, part=(rank // 2, 2),
                            num_stages=2, stages=[[0, 1], [2, 3]])
        seen['replica'] = wrapper.data_parallel_rank
        seen['stage'] = wrapper.stage
        seen['dp2'] = state(model)
    torch.save(seen, os.path.join(out, f'rank{rank}.pth'))
    dist.barrier()
    dist.destroy_process_group()


def _spawn(world, tmp_path_factory):
    import torch.multiprocessing as mp
    out = str(tmp_path_factory.mktemp(f'pipeline{world}'))
    mp.start_processes(_worker, args=(world, free_port(), out),
                       nprocs=world, join=True, start_method='spawn')
    return [torch.load(os.path.join(out, f'rank{r}.pth'), weights_only=False)
            for r in range(world)]


@pytest.fixture(scope='module')
def two(tmp_path_factory):
    return _spawn(2, tmp_path_factory)


def sequential(iters, n=B, **kwargs):
    model = build(100, **kwargs)
    ow = optim(model)
    for it in range(iters):
        data = model.data_preprocessor(batch(it, n), True)
        model.local_train_step(data['inputs'], data['data_samples'], ow)
    return state(model)


def assert_states_close(a, b, atol=1e-6):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0,
                                   msg=lambda m: f'{k}: {m}')


def test_two_stages_own_heads_equal_sequential(two):
    # Parameters and BatchNorm statistics (the profile ran on the first
    # batch and left them untouched).
    assert_states_close(two[0]['own'], sequential(ITERS))
    assert_states_close(two[1]['own'], two[0]['own'], atol=0)
    plan = two[0]['own_plan']
    assert len(plan.bounds) == 2 and len(plan.module_times) == 4
    # Only activations and samples travel, stage 0 -> stage 1 (rank 1 ->
    # rank 0: rank 0 runs the last stage).
    assert two[1]['own_link']['sent_bytes'] > 0
    assert two[0]['own_link']['sent_bytes'] == 0


def test_shared_head_equals_sequential_with_the_shared_head(two):
    assert_states_close(two[0]['shared'], sequential(ITERS, share_head=True))


def test_resume_continues_exactly(two):
    # The optimizer state of every stage was gathered into one file.
    own = build(100)
    n_params = sum(1 for p in own.parameters() if p.requires_grad)
    assert len(two[0]['ckpt_state_keys']) == n_params
    assert_states_close(two[0]['resumed'], sequential(ITERS))


def test_three_stages_equal_sequential(tmp_path_factory):
    ranks = _spawn(3, tmp_path_factory)
    assert_states_close(ranks[0]['own3'], sequential(ITERS))


def test_two_stages_by_two_replicas_equal_one_process(tmp_path_factory):
    ranks = _spawn(4, tmp_path_factory)
    assert [(r['replica'], r['stage']) for r in ranks] == \
        [(0, 1), (0, 0), (1, 1), (1, 0)]
    expected = sequential(ITERS, n=2 * B, norm='GN')
    for r in ranks:
        assert_states_close(r['dp2'], expected, atol=1e-5)
