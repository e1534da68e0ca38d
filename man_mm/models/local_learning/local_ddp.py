"""Data-parallel training that keeps local learning's memory saving.

mmengine's :class:`~mmengine.model.MMDistributedDataParallel` re-implements
``train_step`` as one forward and one backward, so every local module's
graph would be alive at once. :class:`LocalDistributedDataParallel` runs
the model's own per-module step instead and averages gradients across
processes as the local modules finish, in buckets, asynchronously: module
k's communication overlaps module k+1's compute.
"""
from typing import Dict, List

import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapper
from torch import nn

from man_mm.registry import MODEL_WRAPPERS
from .grad_sync import GradientSync


def _sync_batchnorms(module: nn.Module) -> List[str]:
    return [name for name, m in module.named_modules()
            if 'SyncBatchNorm' in type(m).__name__]


@MODEL_WRAPPERS.register_module()
class LocalDistributedDataParallel(nn.Module):
    """Distributed data parallel for :class:`LocalLearningModel`.

    ``train_step`` runs the model's own local step (K local backwards, each
    freeing its module's graph), so every process holds the activations of
    one local module at a time, as in single-process local training. The
    processes stay in sync:

    * parameters and buffers are broadcast from rank 0 when wrapping and
      again before the first training step (the Runner initialises
      weights and loads checkpoints after wrapping);
    * module k's gradients are averaged across processes as soon as its
      local backward is done, asynchronously and in buckets, so the
      communication overlaps module k+1's compute (with per-module steps,
      module k steps once its average arrives, after module k+1's
      backward); the last module's and the shared head's gradients are
      reduced once, after the last module;
    * iterations where gradient accumulation does not step communicate
      nothing (as DDP's ``no_sync``); the accumulated gradients are
      averaged on the iteration that steps;
    * ``val_step`` and ``test_step`` run the base model, unwrapped.

    Every process must run the same local modules on every iteration (the
    same gradients exist everywhere), which holds for local learning's
    static module graphs.

    Used automatically by ``tools/train.py`` when a ``LocalLearningModel``
    is trained distributed and the config has no ``model_wrapper_cfg``;
    elsewhere: ``model_wrapper_cfg=dict(type=
    'man_mm.LocalDistributedDataParallel')``.

    SyncBN (``sync_bn='torch'`` in the config) works on GPUs: its
    collectives run inside each module's forward and backward, in the same
    order on every process. torch's ``SyncBatchNorm`` has no CPU kernel, so
    on CPU the wrapper refuses it with an error.

    Args:
        module (nn.Module): The model, a ``LocalLearningModel`` (anything
            with its ``local_train_step``).
        bucket_size_mb (float): Largest all-reduce bucket. Defaults to 25
            (DDP's default).
        overlap (bool): Overlap module k's communication with module k+1's
            compute. ``False`` blocks on each all-reduce (for benchmarks).
        broadcast_buffers (bool): Also broadcast buffers (BatchNorm
            statistics) from rank 0 before every training step. Defaults
            to False, as mmengine's ``MMDistributedDataParallel``.
        process_group (ProcessGroup, optional): Defaults to the world.
    """

    def __init__(self,
                 module: nn.Module,
                 bucket_size_mb: float = 25.,
                 overlap: bool = True,
                 broadcast_buffers: bool = False,
                 process_group=None):
        super().__init__()
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                'LocalDistributedDataParallel needs an initialised process '
                'group (launch with tools/dist_train.sh or '
                'tools/slurm_train.sh).')
        if not hasattr(module, 'local_train_step'):
            raise TypeError(
                'LocalDistributedDataParallel wraps a local-learning model '
                f'(man_mm.LocalLearningModel); got {type(module).__name__}. '
                'Use mmengine\'s MMDistributedDataParallel for BP models.')
        sync_bns = _sync_batchnorms(module)
        if sync_bns and any(p.device.type == 'cpu'
                            for p in module.parameters()):
            raise ValueError(
                f'SyncBatchNorm ({sync_bns[0]}, ...) has no CPU kernel in '
                "torch; on CPU remove sync_bn from the config (use BN or "
                'GN), or train on GPUs.')
        self.module = module
        self.process_group = process_group
        self.broadcast_buffers = broadcast_buffers
        self.grad_sync = GradientSync(process_group, bucket_size_mb, overlap)
        self._broadcast_states()
        # The Runner initialises weights and loads checkpoints after
        # wrapping: broadcast once more before the first step.
        self._synced = False

    def _broadcast_states(self) -> None:
        self._broadcast(list(self.module.parameters()) +
                        list(self.module.buffers()))

    def _broadcast(self, tensors: List[torch.Tensor]) -> None:
        tensors = [t.detach() for t in tensors]
        if tensors:
            dist._broadcast_coalesced(
                self.process_group or dist.group.WORLD, tensors,
                self.grad_sync.bucket_bytes, 0)

    def train_step(self, data, optim_wrapper: OptimWrapper
                   ) -> Dict[str, torch.Tensor]:
        """The model's local step with gradients averaged across
        processes.

        Args:
            data (dict | tuple | list): A batch from the data loader.
            optim_wrapper (OptimWrapper): The optimizer wrapper.

        Returns:
            dict: The model's log variables.
        """
        if not self._synced:
            self._broadcast_states()
            self._synced = True
        elif self.broadcast_buffers:
            self._broadcast(list(self.module.buffers()))
        data = self.module.data_preprocessor(data, True)
        return self.module.local_train_step(
            data['inputs'], data['data_samples'], optim_wrapper,
            grad_sync=self.grad_sync)

    def val_step(self, data) -> list:
        """The base model's ``val_step``."""
        return self.module.val_step(data)

    def test_step(self, data) -> list:
        """The base model's ``test_step``."""
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
