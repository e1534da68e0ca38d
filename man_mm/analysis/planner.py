"""Plan a local-learning setting that fits a memory budget.

One profiling iteration at one module per unit (with and without
checkpointing inside the local steps) measures, for every trainable unit
``u``: the true dynamic peak of the local step that ends at ``u`` (its unit,
its aux net, the head, gradients, the per-module optimizer step), what was
alive when that step began, the activations that unit ``u`` keeps for
backward, its output, its parameters and its forward time. Any grouping of
units into K modules is then predicted from these parts:

* a module ``[a..b]`` peaks at the step ending at ``b`` plus, for each
  earlier unit ``u`` of the module, what ``u`` keeps alive until the local
  backward (its saved activations, or with checkpointing only its output)
  and its gradients;
* the true total is the static memory of the setting (weights, buffers,
  optimizer state: the aux nets' parameters are known per unit) plus the
  largest module peak;
* time is the sum of the steps' times, plus about three forwards per earlier
  unit of a module (four with checkpointing: forward, recomputation,
  backward).
"""
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch

from man_mm.utils import ActivationMemoryMeter, memory_meter_for

MiB = 2**20


@dataclass
class UnitProfile:
    """Measured costs of one trainable unit and of the step ending there."""
    name: str
    step_peak: float = 0.0    # dynamic peak of the step ending here, bytes
    step_base: float = 0.0    # dynamic bytes alive when that step began
    step_time: float = 0.0    # seconds of that step (forward to opt. step)
    saved: float = 0.0        # activations the unit keeps for backward
    out: float = 0.0          # bytes of the unit's output
    params: float = 0.0       # bytes of the unit's trainable parameters
    aux_params: float = 0.0   # bytes of the aux net of a module ending here
    fwd_time: float = 0.0     # seconds of the unit's forward


@dataclass
class Profile:
    """Per-unit profiles, without and with checkpointing, plus totals.

    Attributes:
        base_bytes: The base model's parameters and buffers.
        base_trainable: The base model's trainable parameter bytes.
        state_per_param: Optimizer state bytes per trainable byte (SGD with
            momentum 1, Adam 2).
        step_per_module: Whether the profiled (and planned) runs step each
            module after its backward.
    """
    units: List[UnitProfile]
    units_cp: List[UnitProfile]
    base_bytes: float
    base_trainable: float
    state_per_param: float
    frozen_time: float = 0.0
    step_per_module: bool = True


def _profile_run(model, optim, batch):
    """One metered iteration of a one-module-per-unit model."""
    # On a GPU the allocator's counters (free to read); else the dispatch
    # meter, which counts the same bytes on any device.
    meter = memory_meter_for(model, optim)
    saved = ActivationMemoryMeter.for_model(model)
    lms = model.local_modules
    rows = [UnitProfile(lm.unit_names[-1]) for lm in lms]
    marks = {}
    handles = []

    def close_step(k):
        rows[k].step_peak = meter.peak_dynamic_bytes - rows[k].step_base
        rows[k].step_time = time.perf_counter() - marks['step']

    def pre(k):
        def hook(module, args):
            if k > 0:
                close_step(k - 1)
            else:
                marks['frozen'] = time.perf_counter() - marks['start']
            rows[k].step_base = meter.current_bytes
            meter.reset_peak()
            marks['step'] = time.perf_counter()
        return hook

    def body_pre(module, args):
        marks['saved'] = saved.current_bytes
        marks['fwd'] = time.perf_counter()

    def body_post(k):
        def hook(module, args, out):
            rows[k].fwd_time = time.perf_counter() - marks['fwd']
            rows[k].saved = saved.current_bytes - marks['saved']
            rows[k].out = out.untyped_storage().nbytes()
        return hook

    for k, lm in enumerate(lms):
        handles += [lm.register_forward_pre_hook(pre(k)),
                    lm.body.register_forward_pre_hook(body_pre),
                    lm.body.register_forward_hook(body_post(k))]
        rows[k].params = 4.0 * sum(p.numel() for p in lm.body.parameters()
                                   if p.requires_grad)
        rows[k].aux_params = 0.0 if k == len(lms) - 1 else 4.0 * sum(
            p.numel() for p in lm.aux.parameters() if p.requires_grad)
    try:
        with saved, meter:
            marks['start'] = time.perf_counter()
            model.train_step(batch, optim)
            close_step(len(lms) - 1)
    finally:
        for h in handles:
            h.remove()
    return rows, marks['frozen'], meter.static_bytes


def profile_units(build_local: Callable[..., torch.nn.Module],
                  build_optim: Callable, batch: Callable[[int], dict],
                  warmup_batch: Callable[[int], dict],
                  step_per_module: Optional[bool] = None) -> Profile:
    """Measure every unit once, without and with checkpointing.

    Args:
        build_local (callable): ``(with_cp, step_per_module) ->
            LocalLearningModel`` with one module per trainable unit.
        build_optim (callable): ``model -> OptimWrapper`` (the config's).
        batch (callable): ``i -> batch`` at the planned size.
        warmup_batch (callable): ``i -> batch`` creating the optimizer state.
        step_per_module (bool, optional): Passed to the model (``None``:
            per module exactly when that changes nothing).

    Returns:
        Profile: The measured parts.
    """
    out = {}
    for cp in (False, True):
        torch.manual_seed(0)
        model = build_local(with_cp=cp, step_per_module=step_per_module)
        model.train()
        optim = build_optim(model)
        model.train_step(warmup_batch(0), optim)
        rows, frozen, static = _profile_run(model, optim, batch(0))
        out[cp] = rows
        params = sum(4.0 * p.numel() for p in model.parameters())
        trainable = sum(4.0 * p.numel() for p in model.parameters()
                        if p.requires_grad)
        buffers = sum(b.numel() * b.element_size() for b in model.buffers())
        aux = sum(r.aux_params for r in rows)
        per_module = model.steps_per_module(optim)
        del model, optim
    return Profile(
        units=out[False], units_cp=out[True],
        base_bytes=params + buffers - aux,
        base_trainable=trainable - aux,
        state_per_param=(static - params - buffers) / trainable,
        frozen_time=frozen, step_per_module=per_module)


def predict(profile: Profile, groups: List[List[int]], with_cp: bool
            ) -> Dict[str, float]:
    """Predicted true peak (MiB) and seconds per iteration of a setting.

    Args:
        profile (Profile): From :func:`profile_units`.
        groups (list[list[int]]): Trainable-unit indices of each module.
        with_cp (bool): Checkpointing inside the local steps.

    Returns:
        dict: ``total_mib``, ``static_mib``, ``time_s``.
    """
    units = profile.units_cp if with_cp else profile.units
    ends = {g[-1] for g in groups[:-1]}
    aux = sum(units[e].aux_params for e in ends)
    static = profile.base_bytes + aux + profile.state_per_param * (
        profile.base_trainable + aux)
    peak, seconds = 0.0, profile.frozen_time
    for g in groups:
        a, b = g[0], g[-1]
        kept = sum((units[i].out if with_cp else units[i].saved) +
                   units[i].params for i in g[:-1])
        if not profile.step_per_module:
            # The profile held the gradients of an aux net after every
            # earlier unit; this setting only after its module ends.
            kept -= sum(units[i].aux_params for i in range(a)
                        if i not in ends)
        peak = max(peak, units[a].step_base + units[b].step_peak + kept)
        seconds += units[b].step_time + sum(
            (4 if with_cp else 3) * units[i].fwd_time for i in g[:-1])
    return dict(total_mib=(static + peak) / MiB, static_mib=static / MiB,
                time_s=seconds)


def candidate_settings(num_units: int, ks: Optional[List[int]] = None
                       ) -> List[dict]:
    """K values (even splits) and checkpointing on/off to consider."""
    from man_mm.models.local_learning import partition_units
    ks = ks or sorted({k for k in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
                       if k <= num_units} | {num_units})
    out = []
    for k in ks:
        for cp in (False, True):
            out.append(dict(num_modules=k, with_cp=cp,
                            groups=partition_units(num_units, k)))
    return out


def plan(profile: Profile, budget_mib: Optional[float] = None,
         ks: Optional[List[int]] = None) -> List[dict]:
    """Every candidate with its prediction, fitting ones first, fastest
    first among them."""
    rows = []
    for cand in candidate_settings(len(profile.units), ks):
        row = dict(num_modules=cand['num_modules'], with_cp=cand['with_cp'])
        row.update(predict(profile, cand['groups'], cand['with_cp']))
        row['fits'] = budget_mib is None or row['total_mib'] <= budget_mib
        rows.append(row)
    rows.sort(key=lambda r: (not r['fits'], r['time_s']))
    return rows


def setting_options(row: dict, step_per_module: bool) -> str:
    """The ``--cfg-options`` that select a planned setting."""
    opts = [f"model.num_modules={row['num_modules']}",
            f"model.with_cp={row['with_cp']}"]
    if row.get('slm_width', 1.0) != 1.0:
        opts += ['model.aux.type=man_mm.SLMDetAux',
                 f"model.aux.width={row['slm_width']}"]
    if step_per_module:
        opts.append('model.step_per_module=True')
    return ' '.join(opts)
