"""Training loops that meter memory as a local-learning run needs.

The per-module forward/backward lives in the model
(:class:`man_mm.models.LocalLearningModel.train_step`), where
mmengine's wrappers expect it; these loops add what a local-learning run
needs around it: the true peak memory of an iteration (``mem_peak``, MiB:
weights, optimizer state, gradients, activations, temporaries), the peak of
tensors saved for backward (``act_mem``, MiB), and a description of the
local modules at start-up. They run BP models too, so BP and MAN logs
compare directly.

On CPU, metering hooks every op in Python, so it runs on the first
iteration and then every ``meter_interval`` iterations; the others run at
full speed. On a GPU, ``mem_peak`` (and ``mem_reserved``) are the CUDA
allocator's peaks of every iteration, and the Python meters run only when
asked (``measure_act_mem=True``).
"""
import logging
from contextlib import ExitStack
from typing import Optional, Sequence

from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from man_mm.registry import LOOPS
from man_mm.utils import (ActivationMemoryMeter, CudaMemoryMeter,
                          TotalMemoryMeter)
from man_mm.utils.mmengine_compat import advance_loop_iter, shard_loop_data


class _ActMemMixin:
    """Meter ``train_step`` every ``meter_interval`` iterations."""

    def _init_act_mem(self, measure_act_mem: Optional[bool],
                      meter_interval: int) -> None:
        if meter_interval < 1:
            raise ValueError(f'meter_interval must be >= 1, got '
                             f'{meter_interval}.')
        self.measure_act_mem = measure_act_mem
        self.meter_interval = meter_interval
        self._described = False
        self._cuda = None
        self._shard_for_pipeline()

    def _shard_for_pipeline(self) -> None:
        """A pipeline's stages of one replica read the same batches: shard
        the data by data-parallel rank (mmengine's samplers shard by global
        rank)."""
        model = self.runner.model
        if not hasattr(model, 'data_parallel_rank'):
            return
        shard_loop_data(self, model.data_parallel_rank,
                        model.data_parallel_size)
        model.data_sharded = True

    def _base_model(self):
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def _describe(self, model) -> None:
        self._described = True
        if hasattr(model, 'describe'):
            print_log(model.describe(), logger='current')
        if hasattr(model, 'local_train_step') and isinstance(
                self.runner.model, MMDistributedDataParallel):
            print_log(
                'MMDistributedDataParallel runs one forward and one '
                'backward over all local modules: the memory saving '
                "is lost. Set model_wrapper_cfg=dict(type='man_mm."
                "LocalDistributedDataParallel') (tools/train.py does "
                'when the config sets none).',
                logger='current', level=logging.WARNING)
        param = next(model.parameters(), None)
        self._cuda = param is not None and param.is_cuda
        if self.measure_act_mem is None:
            # The dispatch meters hook every op in Python: on a GPU, whose
            # allocator reports the true peak for free, only when asked.
            self.measure_act_mem = not self._cuda

    def _run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        model = self._base_model()
        if not self._described:
            self._describe(model)
        self.runner.call_hook(
            'before_train_iter', batch_idx=idx, data_batch=data_batch)
        metered = self.measure_act_mem and \
            self.iter % self.meter_interval == 0
        with ExitStack() as stack:
            if self._cuda:  # every iteration: the allocator's figures
                cuda = stack.enter_context(
                    CudaMemoryMeter.for_training(model))
            if metered:
                meter = stack.enter_context(
                    ActivationMemoryMeter.for_model(model))
                if not self._cuda:
                    total = stack.enter_context(
                        TotalMemoryMeter.for_training(
                            model, self.runner.optim_wrapper))
            outputs = self.runner.model.train_step(
                data_batch, optim_wrapper=self.runner.optim_wrapper)
        if self._cuda:
            outputs['mem_peak'] = cuda.peak_mib
            outputs['mem_reserved'] = cuda.reserved_peak_mib
        elif metered:
            outputs['mem_peak'] = total.peak_mib
        if metered:
            outputs['act_mem'] = meter.peak_mib
        if (metered or self._cuda) and self.iter % self.meter_interval == 0:
            self._log_per_rank(outputs.get('act_mem', 0.0),
                               outputs['mem_peak'])
        if hasattr(self.runner.model, 'gather_for_checkpoint') and \
                self._checkpoint_due(idx):
            # mmengine saves on rank 0 only: a pipeline gathers first, on
            # every process.
            self.runner.model.gather_for_checkpoint()
        self.runner.call_hook(
            'after_train_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)
        advance_loop_iter(self)

    def _checkpoint_due(self, idx: int) -> bool:
        """Whether a ``CheckpointHook`` saves after this iteration (its own
        conditions, read before ``after_train_iter``/``after_train_epoch``
        run)."""
        runner = self.runner
        epoch_ends = isinstance(self, EpochBasedTrainLoop) and \
            idx + 1 == len(self.dataloader)
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook):
                continue
            if hook.by_epoch:
                if epoch_ends and (
                        hook.every_n_epochs(runner, hook.interval,
                                            hook.save_begin)
                        or (hook.save_last
                            and hook.is_last_train_epoch(runner))):
                    return True
            elif hook.every_n_train_iters(runner, hook.interval,
                                          hook.save_begin) or (
                    hook.save_last and hook.is_last_train_iter(runner)):
                return True
        return False

    def _log_per_rank(self, act_mem: float, mem_peak: float) -> None:
        """Distributed: every rank's figures (the log's ``act_mem`` and
        ``mem_peak`` are rank 0's)."""
        if get_world_size() < 2:
            return
        ranks = all_gather_object((act_mem, mem_peak))
        print_log(
            f'Iter {self.iter}: per rank act_mem (MiB) ' + ', '.join(
                f'{a:.1f}' for a, _ in ranks) + '; mem_peak (MiB) ' +
            ', '.join(f'{m:.1f}' for _, m in ranks),
            logger='current')


@LOOPS.register_module()
class LocalEpochBasedTrainLoop(_ActMemMixin, EpochBasedTrainLoop):
    """:class:`mmengine.runner.EpochBasedTrainLoop` logging ``act_mem``.

    Args:
        measure_act_mem (bool, optional): Run the dispatch meters on the
            first iteration and then every ``meter_interval``: ``act_mem``
            (tensors saved for backward) and, on CPU, ``mem_peak`` (the
            true total). ``None`` (default): on CPU only. On a GPU,
            ``mem_peak`` and ``mem_reserved`` come from the CUDA allocator
            on every iteration (free to read) and the dispatch meters,
            which hook every op in Python, run only when this is True.
        meter_interval (int): Meter the first iteration and then every
            this many. Defaults to 50.
        by_epoch (bool): Accepted so that ``train_cfg = dict(type=...)``
            can override an mmpretrain schedule's ``dict(by_epoch=True,
            ...)``; must be True. Use :class:`LocalIterBasedTrainLoop` for
            iteration-based training.
        **kwargs: :class:`EpochBasedTrainLoop` arguments.
    """

    def __init__(self, *args, measure_act_mem: Optional[bool] = None,
                 meter_interval: int = 50, by_epoch: bool = True,
                 **kwargs):
        if not by_epoch:
            raise ValueError(
                'LocalEpochBasedTrainLoop got by_epoch=False; use '
                "train_cfg=dict(type='man_mm.LocalIterBasedTrainLoop', "
                'max_iters=...) for iteration-based training.')
        super().__init__(*args, **kwargs)
        self._init_act_mem(measure_act_mem, meter_interval)

    def run_iter(self, idx, data_batch: Sequence[dict]) -> None:
        self._run_iter(idx, data_batch)


@LOOPS.register_module()
class LocalIterBasedTrainLoop(_ActMemMixin, IterBasedTrainLoop):
    """:class:`mmengine.runner.IterBasedTrainLoop` logging ``act_mem``.

    Args:
        measure_act_mem (bool): As in :class:`LocalEpochBasedTrainLoop`.
        meter_interval (int): As in :class:`LocalEpochBasedTrainLoop`.
        **kwargs: :class:`IterBasedTrainLoop` arguments.
    """

    def __init__(self, *args, measure_act_mem: Optional[bool] = None,
                 meter_interval: int = 50, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_act_mem(measure_act_mem, meter_interval)

    def run_iter(self, data_batch: Sequence[dict]) -> None:
        self._run_iter(self.iter, data_batch)
