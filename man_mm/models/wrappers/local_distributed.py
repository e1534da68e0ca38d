"""Data-parallel training that keeps local learning's memory saving.

mmengine's :class:`~mmengine.model.MMDistributedDataParallel` re-implements
``train_step`` as one forward and one backward, so every local module's
graph would be alive at once. :class:`LocalDistributedDataParallel` runs
the model's own per-module step instead and averages gradients across
processes as the local modules finish, in buckets, asynchronously: module
k's communication overlaps module k+1's compute.
"""
import time
from typing import Dict, List, Sequence

import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapper
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from man_mm.registry import MODEL_WRAPPERS


class _Bucket:
    """Gradients reduced as one flat tensor."""

    __slots__ = ('params', 'grads', 'flat', 'work')

    def __init__(self, params: List[nn.Parameter],
                 grads: List[torch.Tensor]):
        self.params, self.grads = params, grads
        self.flat = _flatten_dense_tensors(grads)
        self.work = None


class GradientSync:
    """Averages gradients across processes, module by module.

    The protocol :meth:`LocalLearningModel.local_train_step` drives:
    :meth:`begin` (does this iteration communicate?), :meth:`module_done`
    (launch module k's all-reduce), :meth:`wait` (module k's gradients are
    averaged), :meth:`finish` (reduce the rest, wait for everything).

    Args:
        process_group (ProcessGroup, optional): Defaults to the world.
        bucket_size_mb (float): Largest bucket; a module's gradients are
            flattened into buckets of at most this size (a larger tensor
            gets a bucket of its own).
        overlap (bool): Launch each module's all-reduce asynchronously and
            wait only when its gradients are needed. ``False`` waits at
            once (for benchmarks: communication not hidden).

    Attributes:
        stats (dict): ``allreduce_calls``, ``allreduce_bytes`` and
            ``comm_wait_s`` (time blocked on communication: launching and
            waiting), summed since the last :meth:`reset_stats`.
    """

    def __init__(self,
                 process_group=None,
                 bucket_size_mb: float = 25.,
                 overlap: bool = True):
        if bucket_size_mb <= 0:
            raise ValueError(f'bucket_size_mb must be > 0, got '
                             f'{bucket_size_mb}.')
        self.process_group = process_group
        self.bucket_bytes = int(bucket_size_mb * 2**20)
        self.overlap = overlap
        self.world_size = dist.get_world_size(process_group)
        self._pending: Dict[object, List[_Bucket]] = {}
        self.reset_stats()

    def reset_stats(self) -> None:
        """Zero :attr:`stats`."""
        self.stats = dict(allreduce_calls=0, allreduce_bytes=0,
                          comm_wait_s=0.)

    # -- the protocol ---------------------------------------------------
    def begin(self, optim_wrapper: OptimWrapper) -> bool:
        """Whether this iteration communicates: only when the optimizer
        will step (as DDP's ``no_sync`` under gradient accumulation).
        Called before the iteration's backwards."""
        if self._pending:
            raise RuntimeError('GradientSync: the previous iteration left '
                               'all-reduces unfinished.')
        return optim_wrapper.should_sync()

    def module_done(self, index, params: Sequence[nn.Parameter]) -> None:
        """Start averaging ``params``' gradients (module ``index``).

        ``params`` is the same list, in the same order, on every rank, so
        every rank issues the same collectives with the same sizes even
        when a gradient exists on some ranks only (a data-dependent
        branch): a missing gradient is reduced as zeros, and one flag per
        parameter says whether any rank had it.
        """
        params = list(params)
        if not params:
            return
        start = time.perf_counter()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                 for p in params]
        flags = torch.tensor([float(p.grad is not None) for p in params],
                             device=grads[0].device)
        flag_work = dist.all_reduce(flags, group=self.process_group,
                                    async_op=True)
        buckets = []
        for group in self._bucketise(list(zip(params, grads))):
            bucket = _Bucket([p for p, _ in group], [g for _, g in group])
            bucket.work = dist.all_reduce(
                bucket.flat, group=self.process_group, async_op=True)
            self.stats['allreduce_calls'] += 1
            self.stats['allreduce_bytes'] += \
                bucket.flat.numel() * bucket.flat.element_size()
            buckets.append(bucket)
        self._pending[index] = (params, flags, flag_work, buckets)
        self.stats['comm_wait_s'] += time.perf_counter() - start
        if not self.overlap:
            self.wait(index)
        # Earlier modules had this module's whole compute to finish their
        # communication: completing them now frees their flat copies, so
        # at most two modules' copies are alive even with one step per
        # iteration.
        for other in [i for i in self._pending if i != index]:
            self.wait(other)

    def wait(self, index) -> None:
        """Block until module ``index``'s gradients are averaged."""
        pending = self._pending.pop(index, None)
        if pending is None:
            return
        params, flags, flag_work, buckets = pending
        start = time.perf_counter()
        flag_work.wait()
        used = {id(p) for p, n in zip(params, flags.tolist()) if n > 0}
        for bucket in buckets:
            bucket.work.wait()
            bucket.flat.div_(self.world_size)
            for p, grad, avg in zip(
                    bucket.params, bucket.grads,
                    _unflatten_dense_tensors(bucket.flat, bucket.grads)):
                grad.copy_(avg)
                # No rank had a gradient: leave it None, as one process
                # would (the optimizer then skips the parameter).
                p.grad = grad if id(p) in used else None
        self.stats['comm_wait_s'] += time.perf_counter() - start

    def finish(self, params: Sequence[nn.Parameter]) -> None:
        """Average ``params`` (the last module's and the shared ones, whose
        gradients are final only now) and wait for every module."""
        self.module_done('final', params)
        for index in list(self._pending):
            self.wait(index)

    def _bucketise(self, pairs: List[tuple]) -> List[List[tuple]]:
        """Consecutive ``(param, grad)`` pairs of one dtype and device, up
        to :attr:`bucket_bytes` of gradients each."""
        buckets, current, size, key = [], [], 0, None
        for pair in pairs:
            g = pair[1]
            nbytes = g.numel() * g.element_size()
            g_key = (g.dtype, g.device)
            if current and (g_key != key
                            or size + nbytes > self.bucket_bytes):
                buckets.append(current)
                current, size = [], 0
            current.append(pair)
            size += nbytes
            key = g_key
        if current:
            buckets.append(current)
        return buckets


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
