"""The mmengine internals man_mm relies on, pinned to the tested release,
and the registrations ``import man_mm`` makes for a user's own Runner."""
import os.path as osp

import mmengine
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

from man_mm.utils import mmengine_compat as compat
from tests.helpers import ROOT


def test_written_for_this_mmengine():
    # A different mmengine may have moved the private attributes below:
    # re-check each (this file's other tests) and update TESTED_MMENGINE.
    assert mmengine.__version__ == compat.TESTED_MMENGINE


def test_accumulation_counter_round_trip():
    param = torch.nn.Parameter(torch.zeros(2))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=0.1),
                           accumulative_counts=4)
    assert compat.accumulative_counts(wrapper) == 4
    compat.set_inner_count(wrapper, 3)
    assert compat.inner_count(wrapper) == 3
    assert not wrapper.should_update()  # mmengine reads the counter
    compat.set_inner_count(wrapper, 4)
    assert wrapper.should_update()


def test_restricted_param_groups_steps_only_the_given_params():
    a, b = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([a, b], lr=1.0)
    a.grad, b.grad = torch.ones(1), torch.ones(1)
    with compat.restricted_param_groups(opt, [a]):
        opt.step()
    assert a.item() == 0.0 and b.item() == 1.0
    assert opt.param_groups[0]['params'] == [a, b]  # restored


def test_man_mm_prefix_resolves_in_base_configs(tmp_path):
    cfg_file = tmp_path / 'mine.py'
    cfg_file.write_text(
        "_base_ = 'man_mm::classification/resnet32_digits_man_k16.py'\n"
        'model = dict(num_modules=4)\n')
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.model.type == 'man_mm.LocalLearningModel'
    assert cfg.model.num_modules == 4


def test_resume_in_a_users_own_runner(tmp_path, monkeypatch):
    """A Runner built by the user (not man_mm's tools) resumes: torch >= 2.6
    loads mmengine's resume file only with man_mm's safe globals."""
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    digits = tmp_path / 'digits'
    from tests.helpers import load_tool
    load_tool('dataset_converters/prepare_digits.py').main(
        ['--out', str(digits)])
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/classification/resnet32_digits_bp.py'))
    cfg.work_dir = str(tmp_path / 'work')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(digits)
        cfg[key].dataset.indices = 16
        cfg[key].batch_size = 8
        cfg[key].num_workers = 0
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint.interval = 1
    Runner.from_cfg(cfg).train()
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))

    cfg.train_cfg.max_epochs = 2
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 2
    assert runner.iter == 4  # resumed at iteration 2, not restarted


def test_samplers_are_resharded_by_data_parallel_rank():
    import itertools

    from mmengine.dataset import DefaultSampler, InfiniteSampler
    data = list(range(10))
    # Built for global rank 3 of 4 (stage 1 of replica 1 in a 2x2 mesh),
    # it must read replica 1's half of the data.
    sampler = DefaultSampler(data, shuffle=False)
    compat.shard_sampler(sampler, 3, 4)
    compat.shard_sampler(sampler, 1, 2)
    assert list(sampler) == [1, 3, 5, 7, 9] and len(sampler) == 5
    sampler = InfiniteSampler(data, shuffle=False)
    compat.shard_sampler(sampler, 1, 2)
    sampler.indices = sampler._indices_of_rank()  # as shard_loop_data does
    assert list(itertools.islice(iter(sampler), 5)) == [1, 3, 5, 7, 9]
