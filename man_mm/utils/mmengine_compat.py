"""Every place where man_mm relies on mmengine or torch internals.

Local learning runs K backwards and per-module optimizer steps inside one
mmengine iteration, which mmengine's public API does not foresee. The few
private attributes this needs are read and written here and nowhere else,
and ``tests/test_utils/test_mmengine_compat.py`` pins them to the mmengine
version they were written for (:data:`TESTED_MMENGINE`), so an upgrade that
moves them fails one test with a clear message instead of training wrongly.

Also here: two registrations made when :mod:`man_mm` is imported, so that
man_mm behaves like any OpenMMLab codebase in a user's own scripts.
"""
import math
from contextlib import contextmanager
from typing import Iterable, Iterator

import torch

#: The mmengine release whose internals this file was written against.
TESTED_MMENGINE = '0.10.7'


# ----------------------------------------------------------------------
# OptimWrapper: gradient-accumulation counter
# ----------------------------------------------------------------------
def inner_count(optim_wrapper) -> int:
    """Backward calls counted so far (``OptimWrapper.inner_count``)."""
    return optim_wrapper.inner_count


def set_inner_count(optim_wrapper, count: int) -> None:
    """Set the accumulation counter.

    A local iteration runs K backwards; each must count as *the*
    iteration's backward so that ``scale_loss``/``should_update`` behave as
    for one BP backward. mmengine's public setter
    (``initialize_count_status``) also re-validates the model each call.
    """
    optim_wrapper._inner_count = count


def accumulative_counts(optim_wrapper) -> int:
    """Iterations per optimizer step (``accumulative_counts`` argument)."""
    return optim_wrapper._accumulative_counts


@contextmanager
def restricted_param_groups(optimizer: torch.optim.Optimizer,
                            params: Iterable[torch.nn.Parameter]
                            ) -> Iterator[None]:
    """Let ``optimizer.step()`` see only ``params`` (group settings and
    optimizer state kept), so one local module steps on its own."""
    wanted = {id(p) for p in params}
    kept = [g['params'] for g in optimizer.param_groups]
    try:
        for g in optimizer.param_groups:
            g['params'] = [p for p in g['params'] if id(p) in wanted]
        yield
    finally:
        for g, params_of_group in zip(optimizer.param_groups, kept):
            g['params'] = params_of_group


# ----------------------------------------------------------------------
# Train loops: iteration bookkeeping
# ----------------------------------------------------------------------
def loop_iter(loop) -> int:
    """The loop's iteration counter (``BaseLoop.iter``)."""
    return loop.iter


def shard_loop_data(loop, rank: int, world_size: int) -> None:
    """Make a train loop read the data shard of ``rank`` among
    ``world_size`` (a pipeline's data-parallel rank) instead of the global
    rank's.

    mmengine's Runner puts the sampler inside the batch sampler, and an
    epoch-based loop sizes ``max_iters`` from the loader's length when it
    is built: both are updated.
    """
    loader = loop.dataloader
    sampler = getattr(loader.batch_sampler, 'sampler', None) or \
        loader.sampler
    shard_sampler(sampler, rank, world_size)
    if not hasattr(loop, 'dataloader_iterator'):  # epoch-based
        loop._max_iters = loop._max_epochs * len(loader)
    if hasattr(sampler, '_indices_of_rank'):
        # InfiniteSampler made its index generator for the old rank.
        sampler.indices = sampler._indices_of_rank()
    if hasattr(loop, 'dataloader_iterator'):
        # An iteration-based loop opened the loader (and its workers may
        # have prefetched the old shard): open it again.
        loop.dataloader_iterator = type(loop.dataloader_iterator)(loader)


def shard_sampler(sampler, rank: int, world_size: int) -> None:
    """Re-shard an mmengine ``DefaultSampler``/``InfiniteSampler`` built
    for the global rank so it reads the shard of ``rank`` among
    ``world_size``.

    Both read ``rank``/``world_size`` when iterated; ``DefaultSampler``
    also sized its shard at construction.
    """
    if not (hasattr(sampler, 'rank') and hasattr(sampler, 'world_size')):
        raise TypeError(
            f'cannot shard {type(sampler).__name__} by data-parallel rank; '
            "use mmengine's DefaultSampler or InfiniteSampler.")
    sampler.rank, sampler.world_size = rank, world_size
    if hasattr(sampler, 'num_samples') and hasattr(sampler, 'round_up'):
        n = len(sampler.dataset)
        if sampler.round_up:
            sampler.num_samples = math.ceil(n / world_size)
            sampler.total_size = sampler.num_samples * world_size
        else:
            sampler.num_samples = math.ceil((n - rank) / world_size)
            sampler.total_size = n


def advance_loop_iter(loop) -> None:
    """``run_iter`` of mmengine's train loops ends with ``self._iter += 1``;
    a loop that overrides ``run_iter`` must do the same."""
    loop._iter += 1


# ----------------------------------------------------------------------
# Registrations made on ``import man_mm``
# ----------------------------------------------------------------------
def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load`` (weights-only by default since torch 2.6) read
    mmengine's resume checkpoints.

    mmengine 0.10 calls ``torch.load`` without ``weights_only``; its resume
    files hold a ``MessageHub`` state (``HistoryBuffer``s of numpy values)
    that the weights-only unpickler refuses. Allow-listing exactly those
    types keeps torch's protection for everything else, and works in a
    user's own ``Runner`` too (the environment variable
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` would only help man_mm's tools).
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads everything anyway
        return
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    # HistoryBuffer pickles its statistics methods as
    # getattr(HistoryBuffer, 'min'): getattr is called on allow-listed
    # objects only (what the weights-only unpickler could build anyway).
    safe = [HistoryBuffer, getattr, np.ndarray, np.dtype,
            np.core.multiarray.scalar, np.core.multiarray._reconstruct]
    # numpy >= 1.25 pickles dtypes by their class (np.dtypes.Float64DType).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, name) for name in dir(dtypes)
                 if name.endswith('DType')]
    add(safe)


def register_config_prefix() -> None:
    """Make ``_base_ = 'man_mm::...'`` resolve as ``mmdet::`` does.

    mmengine resolves ``package::path`` only for the packages in its
    ``MODULE2PACKAGE`` table; this adds man_mm (configs then come from
    ``man_mm/.mim/configs``).
    """
    from mmengine.config import utils
    utils.MODULE2PACKAGE.setdefault('man_mm', 'man_mm')
