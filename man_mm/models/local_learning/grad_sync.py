"""Averaging gradients across processes as local modules finish.

:class:`GradSync` is the protocol :meth:`LocalLearningModel.local_train_step`
drives; :class:`GradientSync` is its all-reduce implementation, used by
:class:`~.local_ddp.LocalDistributedDataParallel`.
"""
import time
from typing import Dict, List, Protocol, Sequence

import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapper
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


class GradSync(Protocol):
    """What the local step calls to synchronise gradients, in this order.

    Per iteration: :meth:`begin` once; :meth:`module_done` as soon as a
    non-final module's gradients are final; :meth:`wait` before that
    module's parameters step (with per-module steps, module k steps after
    module k+1's backward, so its communication overlaps that compute);
    :meth:`finish` with the rest (the last module's and shared parameters)
    before the final step. Every process calls the same methods with the
    same parameters in the same order.
    """

    def begin(self, optim_wrapper: OptimWrapper) -> bool:
        """Whether this iteration communicates (False on accumulation
        iterations that do not step)."""

    def module_done(self, index: int,
                    params: Sequence[nn.Parameter]) -> None:
        """Module ``index``'s gradients are final: start averaging them."""

    def wait(self, index: int) -> None:
        """Block until module ``index``'s gradients are averaged."""

    def finish(self, params: Sequence[nn.Parameter]) -> None:
        """Average ``params``' gradients and wait for everything pending."""


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

    Implements :class:`GradSync` with bucketed all-reduces: launched when
    a module is done, waited for only when its gradients are needed.

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


class StageGradSync:
    """:class:`GradSync` for one pipeline stage.

    Averages the stage's gradients over its data-parallel group (a
    :class:`GradientSync`). A head that every stage runs a replica of
    (MAN's shared head) is stepped once, by the last stage: the other
    stages' gradients are summed into the last stage's (a reduce over the
    pipeline group; each stage has already divided its contributions by
    the number of modules sharing the head, so the sum is their mean),
    the last stage steps, and the new weights are broadcast to the other
    replicas before the next iteration uses them. Only the last stage
    holds the head's optimizer state.

    Args:
        data_sync (GradientSync, optional): Sync over the stage's
            data-parallel group; None with one replica.
        owned (Sequence[nn.Parameter]): The parameters this stage holds
            (the final step's are filtered to them).
        shared (Sequence[nn.Parameter]): The shared head's parameters
            (empty when the aux nets have heads of their own).
        pipe_group (ProcessGroup, optional): This replica's stages.
        head_rank (int, optional): Global rank of this replica's last
            stage, which steps the shared head.
    """

    def __init__(self, data_sync, owned: Sequence[nn.Parameter],
                 shared: Sequence[nn.Parameter] = (), pipe_group=None,
                 head_rank: int = 0):
        self.data_sync = data_sync
        self._owned = {id(p) for p in owned}
        self.shared = list(shared)
        self.pipe_group = pipe_group
        self.head_rank = head_rank
        self._stepped = False
        self.stats = dict(allreduce_calls=0, allreduce_bytes=0,
                          comm_wait_s=0.)

    def begin(self, optim_wrapper: OptimWrapper) -> bool:
        """As :meth:`GradientSync.begin`."""
        if self.data_sync is not None:
            self.data_sync.begin(optim_wrapper)
        return optim_wrapper.should_sync()

    def module_done(self, index, params: Sequence[nn.Parameter]) -> None:
        """Start averaging a module's gradients over the data group."""
        if self.data_sync is not None:
            self.data_sync.module_done(index, params)

    def wait(self, index) -> None:
        """Block until module ``index``'s gradients are averaged."""
        if self.data_sync is not None:
            self.data_sync.wait(index)

    def finish(self, params: Sequence[nn.Parameter]) -> None:
        """Average this stage's final gradients over the data group, then
        sum the shared head's into the last stage."""
        params = [p for p in params if id(p) in self._owned]
        if self.data_sync is not None:
            self.data_sync.finish(params)
        if not self.shared:
            return
        start = time.perf_counter()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                 for p in self.shared]
        # One flag per parameter: a gradient no stage has stays None, as
        # in sequential training (the optimizer then skips it).
        flags = torch.tensor([float(p.grad is not None) for p in self.shared],
                             device=grads[0].device)
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flags, group=self.pipe_group)
        dist.reduce(flat, dst=self.head_rank, group=self.pipe_group)
        owner = dist.get_rank() == self.head_rank
        for p, grad, used in zip(self.shared,
                                 _unflatten_dense_tensors(flat, grads),
                                 flags.tolist()):
            # Elsewhere no gradient: no step, no optimizer state.
            p.grad = grad if owner and used > 0 else None
        self._stepped = True
        self.stats['allreduce_calls'] += 1
        self.stats['allreduce_bytes'] += flat.numel() * flat.element_size()
        self.stats['comm_wait_s'] += time.perf_counter() - start

    def after_step(self) -> None:
        """After the iteration's optimizer step: the head's new weights
        (stepped by the last stage) reach every replica. Every stage calls
        it at the end of the same iteration (not at the start of the next,
        where a later stage is still waiting for its input)."""
        if not self._stepped:
            return
        start = time.perf_counter()
        weights = [p.data for p in self.shared]
        flat = _flatten_dense_tensors(weights)
        dist.broadcast(flat, src=self.head_rank, group=self.pipe_group)
        if dist.get_rank() != self.head_rank:
            for w, new in zip(weights,
                              _unflatten_dense_tensors(flat, weights)):
                w.copy_(new)
        self._stepped = False
        self.stats['allreduce_bytes'] += flat.numel() * flat.element_size()
        self.stats['comm_wait_s'] += time.perf_counter() - start
