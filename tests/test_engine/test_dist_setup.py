"""man_mm.engine.dist_setup: what tools/train.py does to a config before
the Runner is built (one test makes a one-process gloo group)."""
from mmengine.config import Config

from man_mm.engine.dist_setup import (LOCAL_DDP, cpu_distributed,
                                      init_cpu_distributed,
                                      slurm_env, use_local_ddp)
from tests.helpers import cifar_classifier


def _cfg(model, launcher='pytorch', **kwargs):
    return Config(dict(model=model, launcher=launcher, **kwargs))


LOCAL = dict(type='man_mm.LocalLearningModel', model=cifar_classifier())


def test_local_model_gets_the_local_wrapper_when_distributed():
    cfg = _cfg(LOCAL)
    assert use_local_ddp(cfg)
    assert cfg.model_wrapper_cfg == dict(type=LOCAL_DDP)


def test_explicit_wrapper_bp_model_or_no_launcher_are_left_alone():
    explicit = dict(type='MMDistributedDataParallel')
    for cfg in [_cfg(LOCAL, model_wrapper_cfg=explicit),
                _cfg(cifar_classifier()), _cfg(LOCAL, launcher='none')]:
        before = cfg.get('model_wrapper_cfg')
        assert not use_local_ddp(cfg)
        assert cfg.get('model_wrapper_cfg') == before


def test_no_launcher_initialises_nothing():
    assert not init_cpu_distributed(_cfg(LOCAL, launcher='none'))


def test_slurm_env_as_mmengine_sets_it():
    env = slurm_env(dict(SLURM_PROCID='3', SLURM_NTASKS='4',
                         SLURM_LOCALID='1', SLURM_NODELIST='n[1-2]',
                         MASTER_ADDR='n1'))
    assert env == dict(RANK='3', WORLD_SIZE='4', LOCAL_RANK='1',
                       MASTER_PORT='29500', MASTER_ADDR='n1')


def test_cpu_process_group_sets_gloo_in_the_config(monkeypatch):
    """One-process gloo group: the config records the backend even when it
    had no env_cfg, and a BP model keeps mmengine's DDP defaults."""
    import socket

    import pytest
    import torch
    import torch.distributed as dist
    if torch.cuda.is_available() or dist.is_initialized():
        pytest.skip('the CPU path runs only without CUDA and a group')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    cfg = _cfg(cifar_classifier(), find_unused_parameters=True)
    try:
        with cpu_distributed(cfg) as created:
            assert created
            assert dist.get_backend() == 'gloo'
        # Destroyed by the context: none is left to interpreter shutdown.
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.find_unused_parameters is True
    assert cfg.model_wrapper_cfg.device_ids is None
