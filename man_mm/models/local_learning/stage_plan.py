"""Which local modules each pipeline stage runs, and what it hands on.

A stage is a run of consecutive local modules. :func:`profile_modules` times
every module's local step once on a real batch -- without changing the model
(BatchNorm statistics, gradients and the random state are restored) -- and
records which feature-bank entries each module reads; :func:`plan_stages`
then picks the split whose slowest stage is fastest and, for every stage,
the bank entries later stages still read.
"""
import time
from contextlib import contextmanager
from typing import Dict, List, NamedTuple, Optional, Sequence, Set

import torch

from .local_step import local_steps
from .partition import partition_units


class StagePlan(NamedTuple):
    """The split of K local modules into pipeline stages.

    Attributes:
        bounds (list[tuple[int, int]]): ``(first, last)`` module of each
            stage, in order.
        module_times (list[float]): Measured seconds of each module's local
            step (forward and backward), or empty when not profiled.
        sends (list[list[str]]): Bank entries stage ``s`` hands to stage
            ``s + 1``: those a module after stage ``s`` reads. An entry is
            dropped after its last reader.
    """
    bounds: List[tuple]
    module_times: List[float]
    sends: List[List[str]]

    def predicted(self, stage: int) -> Optional[float]:
        """Predicted seconds of ``stage``'s local steps per iteration."""
        if not self.module_times:
            return None
        first, last = self.bounds[stage]
        return sum(self.module_times[first:last + 1])

    def describe(self, unit_names: Sequence[Sequence[str]]) -> str:
        """A table of the stages for the log."""
        lines = ['pipeline stages (modules, units, predicted s/iter, bank '
                 'entries handed on):']
        for s, (first, last) in enumerate(self.bounds):
            pred = self.predicted(s)
            lines.append(
                f'  stage {s}: modules {first}..{last} '
                f'({unit_names[first][0]} .. {unit_names[last][-1]}), '
                + (f'predicted {pred:.3f} s' if pred is not None else
                   'not profiled') + ', sends '
                + (', '.join(self.sends[s]) or '-'))
        if self.module_times:
            times = [self.predicted(s) for s in range(len(self.bounds))]
            bubble = 1 - sum(times) / (len(times) * max(times))
            lines.append(f'  predicted bubble fraction {bubble:.1%} (idle '
                         'share of the stages while the slowest one runs)')
        return '\n'.join(lines)


@contextmanager
def untouched(model):
    """Run ``model`` and leave no trace: buffers (BatchNorm statistics),
    gradients and the random state are restored on exit."""
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    grads = [(p, None if p.grad is None else p.grad.clone())
             for p in model.parameters()]
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() \
        if torch.cuda.is_available() else None
    try:
        yield
    finally:
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)
        for p, saved in grads:
            p.grad = saved
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def profile_modules(model, inputs: torch.Tensor, data_samples,
                    repeats: int = 1) -> tuple:
    """Time each local module's step and record its bank reads.

    Runs the whole model ``1 + repeats`` times (the first is a warm-up:
    allocator and kernel set-up), each module's forward and local backward
    as in training, with no optimizer step; the model is left unchanged.

    Args:
        model (LocalLearningModel): The whole model.
        inputs (Tensor): A preprocessed batch.
        data_samples: Its data samples.
        repeats (int): Timed passes (the median is kept); 0 only records
            the bank reads.

    Returns:
        tuple[list[float], dict[str, set[int]]]: Seconds per module (empty
        when ``repeats`` is 0) and, per bank entry, the modules that read
        it.
    """
    device = inputs.device
    bank = model.feature_bank
    bank.readers = {}
    runs = []
    with untouched(model):
        for _ in range(1 + repeats):
            times = []
            _sync(device)
            start = time.perf_counter()
            for step in local_steps(model, inputs, data_samples):
                loss, _ = model.parse_losses(step.losses)
                loss.backward()
                del step, loss
                _sync(device)
                now = time.perf_counter()
                times.append(now - start)
                start = now
            runs.append(times)
            model.zero_grad(set_to_none=True)
    readers = {k: set(v) for k, v in bank.readers.items()}
    if not repeats:
        return [], readers
    timed = torch.tensor(runs[1:])
    return timed.median(dim=0).values.tolist(), readers


def plan_stages(num_modules: int,
                num_stages: int,
                readers: Dict[str, Set[int]],
                module_times: Sequence[float] = (),
                stages: Optional[Sequence[Sequence[int]]] = None
                ) -> StagePlan:
    """Split the modules into stages and route the bank entries.

    Args:
        num_modules (int): K.
        num_stages (int): Number of stages.
        readers (dict[str, set[int]]): Modules that read each bank entry.
        module_times (Sequence[float]): Seconds per module; the default
            split minimises the slowest stage's total.
        stages (Sequence[Sequence[int]], optional): An explicit split: the
            module indices of each stage, e.g. ``[[0, 1, 2], [3, 4]]``.

    Returns:
        StagePlan: The plan.
    """
    if stages is not None:
        groups = [list(g) for g in stages]
        flat = [i for g in groups for i in g]
        if flat != list(range(num_modules)) or any(not g for g in groups):
            raise ValueError(
                f'stages={groups} must list every local module 0..'
                f'{num_modules - 1} once, in order, in non-empty runs.')
        if len(groups) != num_stages:
            raise ValueError(f'stages has {len(groups)} runs but the '
                             f'pipeline has num_stages={num_stages}.')
    else:
        if num_stages > num_modules:
            raise ValueError(
                f'num_stages={num_stages} is larger than the number of '
                f'local modules (K={num_modules}): every stage needs at '
                'least one module. Use fewer stages or a larger '
                'num_modules.')
        costs = list(module_times) if module_times else None
        groups = partition_units(num_modules, num_stages, costs=costs,
                                 where='the local modules')
    bounds = [(g[0], g[-1]) for g in groups]
    sends = [
        sorted(key for key, mods in readers.items()
               if any(m > last for m in mods))
        for _, last in bounds
    ]
    sends[-1] = []
    return StagePlan(bounds, list(module_times), sends)
