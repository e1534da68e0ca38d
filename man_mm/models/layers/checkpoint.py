"""Activation checkpointing inside a local step.

A local step runs its module's units, then the aux's SLM blocks, then the
neck, head and loss. Checkpointing each unit and each SLM block keeps only
their inputs alive while the head runs; their inner activations come back
one block at a time during the local backward, after the head's own
activations are freed. (Checkpointing the head itself saves nothing: its
backward comes first, so its recomputation would coexist with everything.)
"""
from contextlib import contextmanager
from typing import Iterator, List

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint


@contextmanager
def frozen_norm_stats(module: nn.Module) -> Iterator[None]:
    """Keep BatchNorm running statistics unchanged inside the block.

    The recomputation of a checkpointed block runs its forward a second
    time; without this, every BatchNorm would update its running mean and
    variance twice per iteration (mmcv's ``with_cp`` does). The output is
    the same either way: training-mode BN normalises with batch statistics.
    """
    saved = []
    for m in module.modules():
        if isinstance(m, _BatchNorm) and m.training and \
                m.track_running_stats:
            tracked = None if m.num_batches_tracked is None else \
                m.num_batches_tracked.clone()
            saved.append((m, m.momentum, tracked))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def checkpointed(module: nn.Module, *args):
    """``module(*args)`` whose inner activations are recomputed in backward.

    Non-reentrant checkpointing, so inputs that do not require grad (a local
    module's detached input) are fine; RNG state is replayed; running
    statistics are updated once (:func:`frozen_norm_stats`).
    """
    if not torch.is_grad_enabled():
        return module(*args)
    calls = []

    def run(*inputs):
        if calls:  # the recomputation during backward
            with frozen_norm_stats(module):
                return module(*inputs)
        calls.append(True)
        return module(*inputs)

    return checkpoint(run, *args, use_reentrant=False)


def run_blocks(blocks: nn.Module, x: torch.Tensor, with_cp: bool,
               keep_all: bool = False):
    """Run ``blocks`` (an ``nn.Sequential`` or list) one after the other,
    each checkpointed when ``with_cp``.

    Returns:
        Tensor | list[Tensor]: The last output, or every block's output if
        ``keep_all``.
    """
    outs: List[torch.Tensor] = []
    for block in blocks:
        x = checkpointed(block, x) if with_cp else block(x)
        outs.append(x)
    return outs if keep_all else x


class CheckpointedSequential(nn.Sequential):
    """``nn.Sequential`` whose blocks are each checkpointed when
    :attr:`with_cp` is set (hooks on it and on its blocks fire as usual)."""

    with_cp = False

    def forward(self, x):
        return run_blocks(self, x, self.with_cp)


def disable_block_checkpointing(module: nn.Module) -> None:
    """Turn off OpenMMLab blocks' own ``with_cp`` under ``module``.

    man_mm checkpoints whole units itself; a block's own ``with_cp`` would
    recompute it a second time inside that recomputation.
    """
    for m in module.modules():
        if isinstance(getattr(m, 'with_cp', None), bool):
            m.with_cp = False
