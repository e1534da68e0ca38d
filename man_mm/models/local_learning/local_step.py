"""The walk through the K local modules of one iteration.

Every user of a local forward -- the training step, ``forward(mode='loss')``
and the tests -- goes through :func:`local_steps`, so the order (fresh
feature bank, the task's once-per-iteration preparation, frozen units
without a graph, each module on the detached output of the previous one)
is written once.
"""
from contextlib import nullcontext
from typing import Callable, Dict, Iterator, NamedTuple, Optional

import torch
from torch import nn


class LocalStep(NamedTuple):
    """One local module's forward.

    Attributes:
        module (LocalModule): The local module that ran.
        output (Tensor): Its output, with its graph (its input was
            detached: gradients stop at the module's first unit).
        losses (dict[str, Tensor]): Its aux net's losses (the last
            module's are the real task losses).
        is_last (bool): Whether it is the last local module.
    """
    module: nn.Module
    output: torch.Tensor
    losses: Dict[str, torch.Tensor]
    is_last: bool


class StageSlice(NamedTuple):
    """The local modules one pipeline stage runs, and what it received.

    Attributes:
        first (int): Index of the stage's first local module.
        last (int): Index of its last local module.
        bank (dict[str, Tensor]): Feature-bank entries that earlier stages
            recorded and the stage's modules (or later ones) read.
    """
    first: int
    last: int
    bank: Dict[str, torch.Tensor] = {}


def local_steps(model, inputs: torch.Tensor, data_samples,
                context: Optional[Callable] = None,
                stage: Optional[StageSlice] = None) -> Iterator[LocalStep]:
    """Run ``model``'s local modules in order, one per ``next()``.

    The caller does what local learning does between two modules -- the
    local backward, which frees the module's graph -- before asking for the
    next one; the next module then starts from the previous output,
    detached. The feature bank is fresh and records while the iteration
    runs. Before the first module, the task adapter's ``prepare`` does the
    task head's once-per-iteration work (``TaskAdapter.prepare``).

    Args:
        model (LocalLearningModel): The model.
        inputs (Tensor): The preprocessed batch.
        data_samples: The batch's targets.
        context (callable, optional): ``context(local_module)`` returns a
            context manager entered around that module's forward (e.g.
            ``optim_wrapper.optim_context`` for AMP).
        stage (StageSlice, optional): Run only these modules (a pipeline
            stage). When it does not start at module 0, ``inputs`` is the
            previous stage's output (the frozen units already ran) and its
            bank entries are loaded before the first module.

    Yields:
        LocalStep: Each module's output and losses.
    """
    context = context or (lambda _: nullcontext())
    last = model.num_modules - 1
    first, stop = (0, last) if stage is None else stage[:2]
    with model.feature_bank.recording_for(
            inputs if model.bank_inputs and first == 0 else None) as bank:
        if first > 0:
            for key, feature in stage.bank.items():
                bank.put(key, feature)
        # The task head's once-per-iteration work (a text encoder), before
        # any unit runs, as the base model does it before extract_feat:
        # the same random draws in the same order.
        prepare = getattr(model.task, 'prepare', None)
        if prepare is not None:
            with context(model.local_modules[first]):
                prepare(inputs, data_samples, bank, real_head=stop == last)
        x = model.frozen_forward(inputs) if first == 0 else inputs
        for lm in model.local_modules[first:stop + 1]:
            bank.reader = lm.index
            with context(lm):
                h, losses = lm(x.detach(), data_samples, bank)
            yield LocalStep(lm, h, losses, lm.index == last)
            x = h.detach()
            # Drop this frame's references before the next module runs.
            del h, losses
