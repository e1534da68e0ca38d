"""Distributed set-up that ``tools/train.py`` and ``tools/test.py`` apply
to a config before building the mmengine Runner.

Two gaps of mmengine 0.10 for local learning:

* ``init_dist`` calls ``torch.cuda.set_device`` for every launcher, even
  with the gloo backend, so a CPU run dies there. Without CUDA,
  :func:`init_cpu_distributed` initialises gloo itself; ``Runner.setup_env``
  then skips ``init_dist`` (it only initialises when no process group
  exists).
* ``Runner.wrap_model`` wraps every model in ``MMDistributedDataParallel``,
  whose one forward and one backward lose the memory saving.
  :func:`use_local_ddp` selects
  :class:`man_mm.models.LocalDistributedDataParallel` for a
  ``LocalLearningModel`` instead, unless the config names a wrapper.
"""
import datetime
import logging
import os
import subprocess
from contextlib import contextmanager

import torch
import torch.distributed as dist
from mmengine.logging import print_log

LOCAL_DDP = 'man_mm.LocalDistributedDataParallel'


def slurm_env(environ=None) -> dict:
    """``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_*`` from srun's
    variables, as mmengine's ``_init_dist_slurm`` sets them.

    Args:
        environ (dict, optional): Defaults to ``os.environ``.

    Returns:
        dict: The variables to set.
    """
    environ = os.environ if environ is None else environ
    env = dict(
        RANK=environ['SLURM_PROCID'],
        WORLD_SIZE=environ['SLURM_NTASKS'],
        LOCAL_RANK=environ.get('SLURM_LOCALID', '0'),
        MASTER_PORT=environ.get('MASTER_PORT', '29500'))
    env['MASTER_ADDR'] = environ.get('MASTER_ADDR') or subprocess.getoutput(
        f"scontrol show hostname {environ['SLURM_NODELIST']} | head -n1")
    return env


def init_cpu_distributed(cfg) -> bool:
    """Initialise torch.distributed with gloo on CPU when the config is
    launched distributed and CUDA is unavailable.

    Sets ``cfg.env_cfg.dist_cfg.backend='gloo'`` so the Runner's view of
    the run matches, and, when the config names no model wrapper (call
    :func:`use_local_ddp` first), mmengine's DDP in its CPU form. A no-op
    with CUDA (mmengine's ``init_dist`` works there), without a launcher,
    or when a process group exists.

    Args:
        cfg (Config): The config, with ``launcher`` set.

    Returns:
        bool: Whether a process group was initialised here.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available() or (
            dist.is_available() and dist.is_initialized()):
        return False
    if launcher == 'slurm':
        os.environ.update(slurm_env())
    elif launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} without CUDA is not supported; use '
            "--launcher pytorch (tools/dist_train.sh) or slurm on CPU.")
    # Assigned, not setdefault-ed: a Config stores a converted copy of a
    # new dict, so writing into the returned one would be lost.
    env_cfg = dict(cfg.get('env_cfg') or {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    backend = dist_cfg.get('backend', 'nccl')
    if backend != 'gloo':
        print_log(f'CUDA is not available: backend {backend!r} replaced by '
                  "'gloo' (CPU).", logger='current')
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg
    if cfg.get('model_wrapper_cfg') is None:
        # Runner.wrap_model's default passes device_ids=[LOCAL_RANK], which
        # DDP reads as a CUDA device; None is DDP's CPU form. The rest is
        # as mmengine's default.
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    timeout = dist_cfg.get('timeout', 1800)
    dist.init_process_group(
        backend='gloo', timeout=datetime.timedelta(seconds=timeout))
    print_log(f'torch.distributed initialised on CPU with gloo: rank '
              f'{dist.get_rank()} of {dist.get_world_size()} '
              f'(launcher {launcher}).', logger='current')
    return True


@contextmanager
def cpu_distributed(cfg):
    """:func:`init_cpu_distributed` for the duration of a run.

    Destroys the process group it created when the block ends: a gloo group
    left to interpreter shutdown can abort a finished run ("terminate
    called without an active exception").

    Yields:
        bool: Whether a process group was initialised here.
    """
    created = init_cpu_distributed(cfg)
    try:
        yield created
    finally:
        if created and dist.is_initialized():
            dist.destroy_process_group()


def _is_local_model(model_cfg) -> bool:
    from man_mm.models import LocalLearningModel
    from man_mm.registry import MODELS
    kind = model_cfg.get('type') if model_cfg else None
    if isinstance(kind, str):
        kind = MODELS.get(kind) if '.' in kind or kind in \
            MODELS.module_dict else None
    return isinstance(kind, type) and issubclass(kind, LocalLearningModel)


def use_local_ddp(cfg) -> bool:
    """Select :class:`LocalDistributedDataParallel` for a distributed
    ``LocalLearningModel`` whose config names no ``model_wrapper_cfg``.

    Args:
        cfg (Config): The config, with ``launcher`` set.

    Returns:
        bool: Whether the wrapper was selected here.
    """
    wrapper = cfg.get('model_wrapper_cfg')
    if cfg.get('launcher', 'none') == 'none':
        if wrapper and 'Pipeline' in str(wrapper.get('type', '')):
            print_log(
                f"model_wrapper_cfg {wrapper['type']} needs several "
                'processes: this single-process run trains the local '
                'modules one after the other. Launch with '
                'tools/dist_train.sh CONFIG N (N = stages x replicas).',
                logger='current', level=logging.WARNING)
        return False
    if wrapper is not None or not _is_local_model(cfg.get('model')):
        return False
    cfg.model_wrapper_cfg = dict(type=LOCAL_DDP)
    print_log(f'LocalLearningModel trained distributed: model wrapper '
              f'{LOCAL_DDP} (per-module all-reduce; keeps the memory '
              'saving). Set model_wrapper_cfg to choose another.',
              logger='current')
    return True
