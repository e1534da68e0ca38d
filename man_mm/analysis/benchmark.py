"""Measure one training iteration: true total memory, activation memory, time.

Shared by ``tools/analysis_tools/benchmark_local.py``, the demo and the
tests, so every table in this project is produced by the same code.
"""
import copy
import time
from contextlib import ExitStack
from typing import Callable, Dict, List, Optional

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from man_mm.utils import ActivationMemoryMeter, TotalMemoryMeter


def measure_train_step(model: nn.Module,
                       make_batch: Callable[[int], dict],
                       iters: int = 3,
                       warmup: int = 1,
                       device: str = 'cpu',
                       lr: float = 0.0,
                       optim_wrapper: Optional[OptimWrapper] = None,
                       warmup_batch: Optional[Callable[[int], dict]] = None,
                       meters: bool = True) -> Dict[str, float]:
    """Run ``warmup + iters`` training iterations of ``model``.

    Args:
        model (nn.Module): A model with mmengine's ``train_step`` (a base
            model for BP, a ``LocalLearningModel`` for local learning).
        make_batch (callable): ``i -> data batch`` as a data loader gives.
        iters (int): Timed and metered iterations.
        warmup (int): Untimed iterations first: they create the optimizer
            state (momentum), which then counts as static memory.
        device (str): ``'cpu'`` or ``'cuda'``.
        lr (float): Learning rate of the default optimizer, SGD with
            momentum 0.9. The measured numbers do not depend on it; the
            default 0 keeps random-init detectors from diverging over
            repeated iterations on one batch.
        optim_wrapper (OptimWrapper, optional): Use this one instead (e.g.
            the config's own, built for ``model``).
        warmup_batch (callable, optional): ``i -> batch`` for the warm-up
            iterations, e.g. one small image: on CPU they only need to
            create the optimizer state. Defaults to ``make_batch``.
        meters (bool): Run the dispatch-mode meters (``total_mib``,
            ``act_mem_mib``). On a GPU the allocator's figures are always
            read; ``False`` times the iteration without the meters' Python
            hooks (their ``*_mib`` are then ``None``).

    Returns:
        dict: ``total_mib``, the true peak of one iteration as a GPU would
        hold it: static memory (weights, buffers, optimizer state) plus the
        peak of everything the iteration allocates (activations, gradients,
        temporaries, recomputed tensors), from :class:`TotalMemoryMeter`;
        ``static_mib``, its static part; ``act_mem_mib``, the peak of tensors
        saved for backward alone (:class:`ActivationMemoryMeter`, the
        breakdown tool; a lower bound under checkpointing); ``cuda_peak_mib``
        (``torch.cuda.max_memory_allocated`` over the timed iterations, on a
        GPU; ``None`` on CPU) and ``cuda_reserved_mib``
        (``max_memory_reserved``); ``time_s`` (mean seconds per iteration,
        CUDA synchronised; with ``meters`` their Python hooks cost a few
        percent); ``params_m`` (trainable parameters, millions, aux nets
        included).
    """
    model = model.to(device).train()
    optim = optim_wrapper or OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    cuda = device.startswith('cuda')
    warmup_batch = warmup_batch or make_batch
    peak_act = peak_total = static = 0
    for i in range(warmup):
        model.train_step(warmup_batch(i), optim)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    elapsed = 0.0
    for i in range(iters):
        batch = make_batch(warmup + i)
        with ExitStack() as stack:
            if meters:
                total = stack.enter_context(
                    TotalMemoryMeter.for_training(model, optim))
                meter = stack.enter_context(
                    ActivationMemoryMeter.for_model(model))
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model.train_step(batch, optim)
            if cuda:
                torch.cuda.synchronize()
            elapsed += time.perf_counter() - start
        if meters:
            peak_act = max(peak_act, meter.peak_bytes)
            peak_total = max(peak_total, total.peak_bytes)
            static = total.static_bytes
    return dict(
        total_mib=peak_total / 2**20 if meters else None,
        static_mib=static / 2**20 if meters else None,
        act_mem_mib=peak_act / 2**20 if meters else None,
        time_s=elapsed / max(iters, 1),
        cuda_peak_mib=(torch.cuda.max_memory_allocated() /
                       2**20) if cuda else None,
        cuda_reserved_mib=(torch.cuda.max_memory_reserved() /
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
        # Text in the first column reads left-aligned, numbers right.
        lines.append('| ' + ' | '.join(
            c.rjust(w) if n and i else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths))) + ' |')
        if n == 0:
            lines.append('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(lines)


def with_cp(model_cfg: dict) -> dict:
    """The same base model config with activation checkpointing on (BP
    + ``with_cp``; for a ``LocalLearningModel`` it also turns on
    checkpointing inside the local steps)."""
    cfg = copy.deepcopy(model_cfg)
    cfg['backbone']['with_cp'] = True
    return cfg


def module_breakdown(model: nn.Module, batch: dict,
                     device: str = 'cpu') -> List[dict]:
    """Where each local module's activation memory goes (detectors).

    Runs one local training iteration with forward hooks that read the
    :class:`ActivationMemoryMeter` at the boundaries of each local step:
    before the module (``input``: what is alive already -- the module input
    and the feature bank), after its units (``body``), before the neck
    (``slm``: SLM blocks or the resize pyramid), after the neck (``neck``)
    and after the head and loss (``head``). ``peak`` is the module's
    measured peak, backward included.

    Args:
        model (LocalLearningModel): A local-learning detector.
        batch (dict): One data batch.
        device (str): Device to run on.

    Returns:
        list[dict]: One row per local module, values in MiB.
    """
    model = model.to(device).train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    meter = ActivationMemoryMeter.for_model(model)
    rows: List[dict] = []
    handles = []

    def now():
        return meter.current_bytes / 2**20

    def start(lm):
        def hook(module, args):
            if rows:
                rows[-1]['peak'] = meter.peak_bytes / 2**20
            meter.reset_peak()
            rows.append(dict(module=lm.index,
                             units=f'{lm.unit_names[0]}..'
                             f'{lm.unit_names[-1]}', input=now(),
                             slm=0.0, neck=0.0))
        return hook

    def after(key, base):
        def hook(*args):
            row = rows[-1]
            row[key] = now() - row.get(base + '_at', row['input'])
            row[key + '_at'] = now()
        return hook

    necks = []
    for lm in model.local_modules:
        handles.append(lm.register_forward_pre_hook(start(lm)))
        handles.append(lm.body.register_forward_hook(after('body', 'input')))
        heads = getattr(lm.aux, 'heads', None) or \
            model.task.head_modules()
        if len(heads) > 1 and all(heads[0] is not n for n in necks):
            necks.append(heads[0])
        handles.append(lm.register_forward_hook(after('head', 'neck')))
    for neck in necks:
        handles.append(neck.register_forward_pre_hook(after('slm', 'body')))
        handles.append(neck.register_forward_hook(after('neck', 'slm')))
    try:
        with meter:
            model.train_step(batch, optim)
    finally:
        for h in handles:
            h.remove()
    rows[-1]['peak'] = meter.peak_bytes / 2**20
    for row in rows:
        if 'neck_at' not in row:  # no neck ran: head follows the SLM part
            row['head'] = row['head_at'] - row.get('slm_at', row['body_at'])
        for key in [k for k in row if k.endswith('_at')]:
            del row[key]
    return rows


def base_model_cfg(cfg) -> dict:
    """The base model's config of a BP or MAN config."""
    # A ConfigDict, not a dict: mmdet's two-stage detectors read
    # train_cfg.rpn as an attribute.
    model = copy.deepcopy(cfg.model)
    if model['type'].endswith('LocalLearningModel'):
        model = model['model']
    # As mmengine's Runner: the config's top-level data_preprocessor (e.g.
    # mmpretrain's num_classes, which Mixup/CutMix need) fills a gap.
    if cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor', copy.deepcopy(
            cfg.data_preprocessor))
    return model


def task_of(base: dict) -> str:
    """``'det'``, ``'sr'`` or ``'cls'`` for a base model config."""
    return 'det' if 'bbox_head' in base or 'roi_head' in base else \
        'sr' if 'generator' in base else 'cls'


def make_batches(task: str, base: dict, input_size, batch_size: int):
    """``i -> synthetic batch`` of ``batch_size`` images of ``input_size``
    (H, W; the LR patch for SR) for the task of ``base``."""
    from man_mm.testing import fake_cls_batch
    shape = (3, *input_size)
    n = batch_size
    if task == 'cls':
        num_classes = base['head'].get('num_classes', 10)
        return lambda i: fake_cls_batch(n, shape, num_classes, seed=i)
    if task == 'sr' and str(base['generator']['type']).split('.')[-1] \
            .startswith('LIIF'):
        # LIIF's training batches: an LR patch and 2304 HR pixels sampled
        # at a scale of up to 4 (mmagic's LIIF configs, sample_q=2304).
        from man_mm.testing import fake_liif_batch
        return lambda i: fake_liif_batch(n, input_size[0], 4, 2304, seed=i)
    if task == 'sr':  # --input-size is the LR patch (paper: 48x48)
        from man_mm.testing import fake_sr_batch
        scale = base['generator'].get('upscale_factor', 4)
        return lambda i: fake_sr_batch(n, shape, scale, seed=i)
    from mmdet.testing import demo_mm_inputs
    head = base['bbox_head'] if 'bbox_head' in base else \
        base['roi_head']['bbox_head']  # two-stage: the RoI head's classes
    num_classes = head.get('num_classes', 80)

    def det_batch(i):
        torch.manual_seed(i)
        return demo_mm_inputs(n, [shape] * n, num_items=[3] * n,
                              num_classes=num_classes)

    return det_batch


def build_optim_wrapper(cfg, model, kind='config'):
    """The config's optim_wrapper for ``model`` at lr 0 (the optimizer
    state, hence the memory, is the config's), or SGD with momentum."""
    from mmengine.optim import OptimWrapper, build_optim_wrapper as build
    if kind == 'sgd' or 'optim_wrapper' not in cfg:
        return OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9))
    ow = copy.deepcopy(cfg.optim_wrapper)
    ow.optimizer.lr = 0.0
    amp = ow.get('type', 'OptimWrapper') in ('AmpOptimWrapper',
                                             'mmengine.AmpOptimWrapper')
    if amp and not torch.cuda.is_available():
        ow.type = 'OptimWrapper'  # AMP needs a GPU; memory is compared fp32
        ow.pop('loss_scale', None)
    return build(model, ow)


def accepts_with_cp(backbone_type: str) -> bool:
    """Whether the registered backbone class takes a ``with_cp`` switch."""
    import inspect
    from mmengine.registry import MODELS
    # The default scope's registry, its modules imported (mmdet's ResNet).
    with MODELS.switch_scope_and_registry(None) as registry:
        cls = registry.get(backbone_type)
    return cls is not None and \
        'with_cp' in inspect.signature(cls.__init__).parameters
