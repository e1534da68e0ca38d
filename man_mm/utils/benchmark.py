"""Measure one training iteration: activation memory, allocator peak, time.

Shared by ``tools/analysis_tools/benchmark_local.py``, the demo and the
tests, so every table in this project is produced by the same code.
"""
import copy
import time
from typing import Callable, Dict, List, Optional

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from .memory import ActivationMemoryMeter


def fake_cls_batch(batch_size: int, input_shape=(3, 32, 32),
                   num_classes: int = 10, seed: int = 0) -> dict:
    """A random classification batch in mmpretrain's data-loader format."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, input_shape, generator=g, dtype=torch.uint8)
        for _ in range(batch_size)
    ]
    labels = torch.randint(0, num_classes, (batch_size, ), generator=g)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=inputs, data_samples=samples)


def measure_train_step(model: nn.Module,
                       make_batch: Callable[[int], dict],
                       iters: int = 3,
                       warmup: int = 1,
                       device: str = 'cpu',
                       lr: float = 0.01) -> Dict[str, float]:
    """Run ``warmup + iters`` training iterations of ``model``.

    Args:
        model (nn.Module): A model with mmengine's ``train_step`` (a base
            model for BP, a ``LocalLearningModel`` for local learning).
        make_batch (callable): ``i -> data batch`` as a data loader gives.
        iters (int): Timed iterations.
        warmup (int): Untimed iterations first (allocator/cudnn warm-up).
        device (str): ``'cpu'`` or ``'cuda'``.
        lr (float): SGD learning rate (the numbers do not depend on it).

    Returns:
        dict: ``act_mem_mib`` (peak saved-for-backward memory of one
        iteration, device independent), ``time_s`` (mean seconds per
        iteration), ``cuda_peak_mib`` (``torch.cuda.max_memory_allocated``
        over the timed iterations: parameters, gradients, optimizer state and
        activations; ``None`` on CPU) and ``params_m`` (trainable parameters,
        millions, aux nets included).
    """
    model = model.to(device).train()
    optim = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    cuda = device.startswith('cuda')
    peak_act = 0
    for i in range(warmup):
        model.train_step(make_batch(i), optim)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    elapsed = 0.0
    for i in range(iters):
        batch = make_batch(warmup + i)
        with ActivationMemoryMeter.for_model(model) as meter:
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model.train_step(batch, optim)
            if cuda:
                torch.cuda.synchronize()
            elapsed += time.perf_counter() - start
        peak_act = max(peak_act, meter.peak_bytes)
    return dict(
        act_mem_mib=peak_act / 2**20,
        time_s=elapsed / max(iters, 1),
        cuda_peak_mib=(torch.cuda.max_memory_allocated() /
                       2**20) if cuda else None,
        params_m=sum(p.numel() for p in model.parameters()
                     if p.requires_grad) / 1e6)


def format_table(rows: List[dict], columns: List[tuple]) -> str:
    """Plain-text table. ``columns``: ``(key, header, format)`` triples."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        cells.append([
            '-' if row.get(k) is None else fmt.format(row[k])
            for k, _, fmt in columns
        ])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        lines.append('| ' + ' | '.join(c.rjust(w) if n else c.ljust(w)
                                       for c, w in zip(r, widths)) + ' |')
        if n == 0:
            lines.append('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(lines)


def with_cp(model_cfg: dict) -> dict:
    """The same base model config with activation checkpointing on."""
    cfg = copy.deepcopy(model_cfg)
    cfg['backbone']['with_cp'] = True
    return cfg
