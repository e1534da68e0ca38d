"""Local modules on separate devices: a decoupled pipeline, with data
parallelism inside every stage.

Module k never waits for a gradient from the modules after it, so runs of
consecutive local modules ("stages") can train at the same time on different
processes, each handing its detached output forward: stage s works on batch
t while stage s-1 works on batch t+1. BP cannot do this; its backward needs
every later layer first.
"""
import logging
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.distributed as dist
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from man_mm.registry import MODEL_WRAPPERS
from .grad_sync import GradientSync, StageGradSync
from .local_step import StageSlice
from .stage_link import StageLink
from .stage_plan import StagePlan, plan_stages, profile_modules


def _stage_mesh(num_stages: int, device_type: str):
    """The (data, pipe) device mesh; rank ``d * S + p`` sits at data index
    ``d`` and pipe index ``p``."""
    from torch.distributed.device_mesh import init_device_mesh
    world = dist.get_world_size()
    return init_device_mesh(device_type, (world // num_stages, num_stages),
                            mesh_dim_names=('data', 'pipe'))


@MODEL_WRAPPERS.register_module()
class LocalPipelineParallel(nn.Module):
    """Pipeline x data parallel training of a :class:`LocalLearningModel`.

    ``N = num_stages x replicas`` processes: the K local modules are cut
    into ``num_stages`` runs of consecutive modules, one per process of a
    replica, and each stage is replicated over ``N / num_stages``
    data-parallel processes. Per batch, stage s receives the previous
    stage's detached output, the data samples and the feature-bank entries
    that its modules or later ones read, runs its modules' local steps
    (local backward and per-module optimizer step), sends on and goes to
    the next batch. Gradients are averaged over the stage's data-parallel
    group (:class:`GradientSync`); nothing travels backwards.

    Every process holds only its stage's units, aux nets, gradients and
    optimizer state (the rest of the model is freed after the first step).
    Global rank 0, whose log and checkpoints mmengine keeps, runs the *last*
    stage: the logged ``loss`` is the task loss.

    Heads: with aux nets that have heads of their own
    (``aux=dict(..., share_head=False)``), stages share nothing and run
    fully decoupled. MAN's default aux nets run the base model's real head
    (a *shared* head); then every stage holds a replica of it. After every
    iteration the replicas' gradients are summed into the last stage,
    which steps the head (it alone holds the head's optimizer state), and
    the new weights are broadcast before the next iteration, so every
    replica is exactly the one head of sequential training -- no gradient
    is stale, but a stage cannot start batch t+1 before the last stage has
    finished batch t: the stages overlap only partly.

    Checkpoints keep the single-process layout: before mmengine saves
    (on rank 0), man_mm's train loops gather the full model on every
    process and the optimizer state on rank 0
    (:meth:`gather_for_checkpoint`); validation, which runs the base
    model, gathers it too. Resuming, loading and weight initialisation happen on the full
    model before the first step, which frees what a stage does not own.

    Chosen by one config line, e.g.
    ``model_wrapper_cfg = dict(type='man_mm.LocalPipelineParallel',
    num_stages=2)``, and launched like any distributed run
    (``tools/dist_train.sh CONFIG N``). The train loop must be man_mm's
    (``LocalEpochBasedTrainLoop``/``LocalIterBasedTrainLoop``): it shards
    the data by data-parallel rank, not by global rank.

    Args:
        module (LocalLearningModel): The model.
        num_stages (int): Stages per replica; must divide the number of
            processes and be at most K.
        stages (Sequence[Sequence[int]], optional): An explicit split, the
            module indices of each stage (e.g. ``[[0, 1, 2], [3, 4, 5]]``).
            Defaults to the split that balances the measured module times
            (profiled once on the first batch, leaving the model
            unchanged).
        profile_repeats (int): Timed passes of the profile. Defaults to 2.
        report_interval (int): Log every stage's measured compute and wait
            times after this many iterations and every this many after.
            Defaults to 50.
        bucket_size_mb (float): Data-parallel all-reduce bucket size.
    """

    def __init__(self,
                 module: nn.Module,
                 num_stages: int = 2,
                 stages: Optional[Sequence[Sequence[int]]] = None,
                 profile_repeats: int = 2,
                 report_interval: int = 50,
                 bucket_size_mb: float = 25.):
        super().__init__()
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                'LocalPipelineParallel needs an initialised process group '
                '(launch with tools/dist_train.sh or tools/slurm_train.sh).')
        if not hasattr(module, 'local_train_step'):
            raise TypeError(
                'LocalPipelineParallel pipelines the local modules of a '
                f'man_mm.LocalLearningModel; got {type(module).__name__}. A '
                'BP model has no local modules to pipeline.')
        world = dist.get_world_size()
        if num_stages < 1 or world % num_stages:
            raise ValueError(
                f'num_stages={num_stages} must divide the number of '
                f'processes ({world}): processes = stages x data-parallel '
                'replicas.')
        if num_stages > module.num_modules:
            raise ValueError(
                f'num_stages={num_stages} is larger than the number of '
                f'local modules (K={module.num_modules}); use num_stages <= '
                f'{module.num_modules} or a larger num_modules.')
        self.module = module
        self.num_stages = num_stages
        self._explicit = stages
        self.profile_repeats = profile_repeats
        self.report_interval = report_interval
        self.bucket_size_mb = bucket_size_mb

        device = next(module.parameters()).device
        mesh = _stage_mesh(num_stages, device.type)
        self.data_group = mesh.get_group('data')
        self.pipe_group = mesh.get_group('pipe')
        pipe_ranks = dist.get_process_group_ranks(self.pipe_group)
        pipe_index = mesh.get_local_rank('pipe')
        # Rank 0 (mmengine's logger and checkpointer) runs the last stage.
        self.stage = num_stages - 1 - pipe_index
        self.stage_ranks = pipe_ranks[::-1]
        self.data_parallel_rank = mesh.get_local_rank('data')
        self.data_parallel_size = world // num_stages
        #: Set by man_mm's train loops once the sampler is sharded by
        #: data-parallel rank.
        self.data_sharded = False
        self.link = StageLink(device)
        self.plan: Optional[StagePlan] = None
        self.grad_sync = None
        self._freed: List[tuple] = []  # (tensor, shape) freed on this stage
        self._gathering = False
        self._iters = 0
        self._window = dict(compute_s=0., wait_s=0., iters=0)
        for m in module.modules():
            if isinstance(m, nn.SyncBatchNorm):
                m.process_group = self.data_group

    # ------------------------------------------------------------------
    # set-up on the first step
    # ------------------------------------------------------------------
    def _setup(self, data, optim_wrapper: OptimWrapper) -> None:
        if not self.data_sharded:
            raise RuntimeError(
                'LocalPipelineParallel needs man_mm\'s train loop, which '
                'shards the data by data-parallel rank: set train_cfg = '
                "dict(type='man_mm.LocalEpochBasedTrainLoop', ...) (or "
                'man_mm.LocalIterBasedTrainLoop).')
        model = self.module
        # Weights were initialised (or loaded) on every process: make them
        # identical before each stage keeps its part.
        self._broadcast_full_model(src=0)
        first_rank = self._global_rank(0)
        plan = [None]
        if dist.get_rank() == first_rank:
            batch = model.data_preprocessor(data, True)
            repeats = self.profile_repeats if self._explicit is None else 0
            times, readers = profile_modules(
                model, batch['inputs'], batch['data_samples'], repeats)
            plan[0] = plan_stages(model.num_modules, self.num_stages,
                                  readers, times, self._explicit)
        dist.broadcast_object_list(plan, src=first_rank)
        self.plan = StagePlan(*plan[0])
        names = [lm.unit_names for lm in model.local_modules]
        print_log(self.plan.describe(names), logger='current')

        kept = [self._stage_tensors(s) for s in range(self.num_stages)]
        mine = kept[self.stage]
        everywhere = set.intersection(*kept)
        # The owner of every tensor some stage frees: the first stage that
        # keeps it (its data-parallel rank 0 is the source).
        self._owners: Dict[str, int] = {}
        named = self._named_tensors()
        for name, t in named.items():
            if id(t) in everywhere:
                continue
            holders = [s for s in range(self.num_stages) if id(t) in kept[s]]
            if holders:
                self._owners[name] = holders[0]
        self._mine = mine
        shared = [p for h in model.task.head_modules()
                  for p in h.parameters() if p.requires_grad] \
            if model.shared_head_users > 1 else []
        # The task's context modules (a text encoder) run on every stage
        # and only the last stage's real loss trains them: stepped there,
        # broadcast to the other stages, as a shared head.
        shared += [p for m in self._context_modules()
                   for p in m.parameters() if p.requires_grad] \
            if self.num_stages > 1 else []
        owned = [p for p in model.parameters() if id(p) in mine]
        data_sync = GradientSync(self.data_group, self.bucket_size_mb) \
            if self.data_parallel_size > 1 else None
        if data_sync is not None or (shared and self.num_stages > 1):
            self.grad_sync = StageGradSync(
                data_sync, owned, shared, self.pipe_group,
                head_rank=self._peer(self.num_stages - 1))
        self._install_state_hooks(optim_wrapper)
        self._free(optim_wrapper)

    def _context_modules(self) -> List[nn.Module]:
        """``TaskAdapter.context_modules()``: what every stage runs once
        per iteration (a text encoder)."""
        return list(getattr(self.module.task, 'context_modules', list)())

    def _named_tensors(self) -> Dict[str, torch.Tensor]:
        # Not state_dict(): its pre-hook gathers the model.
        named = dict(self.module.named_parameters())
        named.update(self.module.named_buffers())
        return named

    def _stage_tensors(self, stage: int) -> set:
        """ids of the parameters and buffers ``stage`` needs."""
        model = self.module
        first, last = self.plan.bounds[stage]
        modules = list(model.local_modules[first:last + 1])
        if stage == 0:
            modules += [u.module for u in model.frozen_units]
        if stage == self.num_stages - 1 or model.shared_head_users > 1:
            modules += list(model.task.head_modules())
        modules += self._context_modules()  # every stage runs them
        return {id(t) for m in modules
                for t in list(m.parameters()) + list(m.buffers())}

    def _free(self, optim_wrapper: Optional[OptimWrapper] = None) -> None:
        """Release the tensors other stages own (and their optimizer
        state): a stage's memory is its own part of the model."""
        freed = []
        for name, t in self._named_tensors().items():
            if name in self._owners and id(t) not in self._mine \
                    and t.numel():
                freed.append((t, t.shape))
                t.data = torch.empty(0, dtype=t.dtype, device=t.device)
                if optim_wrapper is not None:
                    optim_wrapper.optimizer.state.pop(t, None)
        self._freed = freed or self._freed

    def _materialize(self) -> None:
        """Gather the whole model on every process (validation, saving)."""
        if not self._freed or not any(t.numel() == 0
                                      for t, _ in self._freed):
            return
        for t, shape in self._freed:
            t.data = torch.empty(shape, dtype=t.dtype, device=t.device)
        named = self._named_tensors()
        with torch.no_grad():
            for name in sorted(self._owners):
                dist.broadcast(named[name].data,
                               src=self._global_rank(self._owners[name]))

    def _global_rank(self, stage: int) -> int:
        """Global rank of ``stage`` in data-parallel replica 0."""
        return self.num_stages - 1 - stage

    def _broadcast_full_model(self, src: int) -> None:
        with torch.no_grad():
            for t in self._named_tensors().values():
                dist.broadcast(t.data, src=src)

    def _install_state_hooks(self, optim_wrapper: OptimWrapper) -> None:
        self._optim_wrapper = optim_wrapper
        optim_wrapper.optimizer.register_state_dict_post_hook(
            self._merge_optimizer_state)

    def gather_for_checkpoint(self) -> None:
        """Gather the whole model on every process and every stage's
        optimizer state on rank 0, for a checkpoint saved next.

        A collective: every process calls it. mmengine saves on rank 0 only
        (``Runner.save_checkpoint`` is ``master_only``), so man_mm's train
        loops call this on every process in the iterations where a
        ``CheckpointHook`` will save; validation calls it too (the model is
        then whole for the best-checkpoint save). The next training step
        frees the parts this stage does not own again.
        """
        self._materialize()
        if self.plan is None:
            return
        self._gathering = True
        try:
            state = self._optim_wrapper.optimizer.state_dict()['state'] \
                if self.data_parallel_rank == 0 else {}
        finally:
            self._gathering = False
        part = {i: {k: v.cpu() if torch.is_tensor(v) else v
                    for k, v in s.items()} for i, s in state.items()}
        gathered = [None] * dist.get_world_size() \
            if dist.get_rank() == 0 else None
        dist.gather_object(part, gathered, dst=0)
        if gathered is not None:
            merged = {}
            for p in gathered:
                merged.update(p)
            self._gathered_state = (self._iters, merged)

    def _merge_optimizer_state(self, optimizer, state_dict):
        """On rank 0, put every stage's optimizer state (gathered by
        :meth:`gather_for_checkpoint` after the last step) in the state
        dict that mmengine saves."""
        if self._gathering:
            return state_dict
        gathered = getattr(self, '_gathered_state', None)
        if gathered is not None and gathered[0] == self._iters:
            state_dict['state'] = dict(sorted(gathered[1].items()))
        elif self.plan is not None and self.num_stages > 1:
            print_log(
                'LocalPipelineParallel: optimizer state saved without '
                'gather_for_checkpoint() after the last step: it holds '
                f'stage {self.stage} only. Save through man_mm\'s train '
                'loops (they gather before a CheckpointHook saves).',
                logger='current', level=logging.WARNING)
        return state_dict

    # ------------------------------------------------------------------
    # steps
    # ------------------------------------------------------------------
    def train_step(self, data, optim_wrapper: OptimWrapper
                   ) -> Dict[str, torch.Tensor]:
        """This stage's part of one iteration.

        Args:
            data (dict | tuple | list): A batch from the data loader (used
                by the first stage; the others receive theirs).
            optim_wrapper (OptimWrapper): The optimizer wrapper.

        Returns:
            dict: The stage's log variables (the last stage's ``loss`` is
            the task loss) and ``pipe_wait`` (seconds blocked receiving).
        """
        if self.plan is None:
            self._setup(data, optim_wrapper)
        elif self._freed and self._freed[0][0].numel():
            self._free(optim_wrapper)  # after validation or saving
        start = time.perf_counter()
        wait_before = self.link.stats['recv_wait_s']
        first, last = self.plan.bounds[self.stage]
        if self.stage == 0:
            batch = self.module.data_preprocessor(data, True)
            x, samples, bank = batch['inputs'], batch['data_samples'], {}
        else:
            x, samples, bank = self.link.recv(
                self._peer(self.stage - 1))
        handoff = None
        if self.stage < self.num_stages - 1:
            keys = self.plan.sends[self.stage]
            dst = self._peer(self.stage + 1)

            def handoff(output, feature_bank):
                self.link.send(dst, output, samples,
                               {k: feature_bank[k] for k in keys
                                if k in feature_bank})
        log_vars = self.module.local_train_step(
            x, samples, optim_wrapper, grad_sync=self.grad_sync,
            stage=StageSlice(first, last, bank), handoff=handoff)
        if self.grad_sync is not None:
            self.grad_sync.after_step()
        # The sent output and bank entries are freed before the next batch
        # runs; the next stage posts its receive once it has finished the
        # previous batch, so in a balanced pipeline this waits little.
        self.link.wait_sent()
        wait = self.link.stats['recv_wait_s'] - wait_before
        elapsed = time.perf_counter() - start
        self._window['compute_s'] += elapsed - wait
        self._window['wait_s'] += wait
        self._window['iters'] += 1
        self._iters += 1
        if self._iters % self.report_interval == 0:
            self.report()
        log_vars['pipe_wait'] = torch.tensor(wait)
        return log_vars

    def _peer(self, stage: int) -> int:
        """Global rank of ``stage`` in this process's replica."""
        return self.stage_ranks[stage]

    def stage_times(self) -> dict:
        """This process's mean compute and wait seconds per iteration since
        the last report (or :meth:`reset_stage_times`)."""
        n = max(self._window['iters'], 1)
        return dict(compute_s=self._window['compute_s'] / n,
                    wait_s=self._window['wait_s'] / n,
                    predicted_s=self.plan.predicted(self.stage))

    def reset_stage_times(self) -> None:
        """Start a new measuring window."""
        self._window = dict(compute_s=0., wait_s=0., iters=0)

    def report(self) -> List[dict]:
        """Every stage's measured figures since the last report, logged
        on rank 0 (a collective: every process calls it)."""
        mine = dict(self.stage_times(), stage=self.stage,
                    replica=self.data_parallel_rank,
                    sent_mib=self.link.stats['sent_bytes'] / 2**20)
        rows = [None] * dist.get_world_size()
        dist.all_gather_object(rows, mine)
        rows.sort(key=lambda r: (r['replica'], r['stage']))
        lines = [f'pipeline after {self._iters} iterations (per iteration):']
        for r in rows:
            busy = r['compute_s'] + r['wait_s']
            pred = r['predicted_s']
            lines.append(
                f"  replica {r['replica']} stage {r['stage']}: compute "
                f"{r['compute_s']:.3f} s"
                + (f' (predicted {pred:.3f} s)' if pred is not None else '')
                + f", waiting {r['wait_s']:.3f} s, bubble "
                f"{r['wait_s'] / busy if busy else 0:.1%}, sent "
                f"{r['sent_mib']:.1f} MiB")
        print_log('\n'.join(lines), logger='current')
        self.reset_stage_times()
        return rows

    def val_step(self, data) -> list:
        """The base model's ``val_step`` (on the gathered model)."""
        if self._freed and not self._freed[0][0].numel():
            self.gather_for_checkpoint()
        return self.module.val_step(data)

    def test_step(self, data) -> list:
        """The base model's ``test_step`` (on the gathered model)."""
        self._materialize()
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def finish(self) -> None:
        """Wait for the last hand-off (call before tearing down)."""
        self.link.wait_sent()
