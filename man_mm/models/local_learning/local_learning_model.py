"""The model wrapper that owns the local-learning ``train_step``."""
import copy
import difflib
import inspect
import logging
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from torch import nn

from man_mm.registry import MODELS
from man_mm.utils import ActivationMemoryMeter
from man_mm.utils.mmengine_compat import (accumulative_counts, inner_count,
                                          restricted_param_groups,
                                          set_inner_count)
from ..aux_heads import TaskHead
from ..layers import disable_block_checkpointing
from ..splitters import build_units
from ..task_adapters import build_task_adapter
from ..task_modules import FeatureBank
from .adversarial_step import adversarial_train_step, check_adversarial_setup
from .grad_sync import GradSync
from .local_module import LocalModule
from .local_step import StageSlice, local_steps
from .partition import partition_units


def unknown_keys_message(owner: str, unknown: dict, signature_of) -> str:
    """Name each unknown config key with the closest accepted one."""
    accepted = [
        name for name, p in inspect.signature(signature_of).parameters.items()
        if name != 'self' and p.kind is not p.VAR_KEYWORD
    ]
    parts = []
    for key in sorted(unknown):
        close = difflib.get_close_matches(key, accepted, n=1)
        parts.append(f'{key!r}' + (f' (did you mean {close[0]!r}?)'
                                   if close else ''))
    return (f'{owner} got unknown config key(s) {", ".join(parts)}; it '
            f'accepts {", ".join(accepted)}.')


class NonFiniteLocalLossError(FloatingPointError):
    """A local module's loss became NaN or Inf."""


@MODELS.register_module()
class LocalLearningModel(BaseModel):
    """Train an OpenMMLab model with supervised local learning (MAN).

    The base model's backbone is cut into ``num_modules`` gradient-isolated
    local modules. Each training iteration runs, for every module in turn:
    forward of its units on the detached output of the previous module,
    forward of its auxiliary net (the last module uses the base model's real
    head), backward of that local loss -- which frees the module's graph at
    once -- and hands the detached output on. Peak activation memory is thus
    one module's plus its aux's, not the whole network's.

    Validation, testing and the checkpoint layout are the base model's:
    ``state_dict()`` holds ``model.*`` (the base model) and ``aux_heads.*``
    (training-only, stripped by ``tools/model_converters/strip_aux.py``).

    Args:
        model (dict | nn.Module): The base model config (e.g. an mmpretrain
            ``ImageClassifier``) or a built model.
        num_modules (int, optional): K. Defaults to one module per unit.
        split_points (Sequence[int], optional): Explicit unit indices where
            modules start; overrides ``num_modules``.
        balance (str): ``'units'`` (equal unit counts) or ``'memory'``
            (equal activation memory per module, as InfoPro*; needs
            ``balance_input_shape``).
        balance_input_shape (Sequence[int], optional): ``(C, H, W)`` used to
            measure per-unit activation memory for ``balance='memory'``.
        stem_as_unit (bool, optional): See :class:`ResNetUnits`.
        aux (dict, optional): Config of the auxiliary net of every
            non-final module, e.g. ``dict(type='man_mm.DGLClsAux')``.
            Defaults to the task's MAN aux with the paper's best settings
            (SLM, feature bank, shared head): ``man_mm.SLMClsAux`` for
            classifiers, ``man_mm.SLMDetAux`` for detectors.
        feature_bank (dict, optional): ``dict(taps=[...])``; each tap is a
            submodule path of the base model (``'backbone.layer1'``) or
            ``'stages'`` for every backbone stage output (keys
            ``'stage0'``...; for detectors, the stages the neck reads).
            Defaults to an empty bank.
        shared_head_grad (str): How the gradients of the K losses that run
            a *shared* head combine in its parameters. ``'mean'`` (default)
            averages them, so the head takes BP-sized steps at BP's learning
            rate; ``'sum'`` adds them, which multiplies the head's effective
            learning rate by the number of modules sharing it (measured: at
            the demo's lr, K=16 diverges with ``'sum'``).
        with_cp (bool, optional): Checkpoint every unit and every SLM block
            inside the local steps: only their inputs stay alive while the
            neck, head and loss run, and their activations are recomputed
            one block at a time in the local backward. Gradients and
            BatchNorm statistics are unchanged; time grows by about one
            forward of the units and SLM blocks. Defaults to the base
            backbone's own ``with_cp``, so a base config's ``with_cp=True``
            is honoured (OpenMMLab blocks skip their own checkpointing when
            their input needs no grad, which is every local module's first
            block).
        step_per_module (bool, optional): Apply the optimizer to a local
            module's parameters (its units and its own aux) right after its
            local backward and free their gradients, instead of holding all
            K modules' gradients until one step at the end. The result is
            the same -- a module's parameters are final after its backward
            and no later module reads them -- but only one module's
            gradients are alive at a time. Parameters that several modules
            use (the shared head) still step once, after the last module.
            ``None`` (default): on exactly when it changes nothing: a plain
            ``OptimWrapper`` without ``clip_grad`` or gradient accumulation.
            ``True``: also with ``clip_grad``, which then clips each
            module's gradients by their own norm (per-module clipping, not
            one global norm: this differs from BP-style clipping).
            Impossible with AMP (one unscale per update) or accumulation.
            ``False``: one step per iteration.
        log_module_losses (bool): Log every module's loss as ``loss_mXX``.
        data_preprocessor (dict, optional): The base model's preprocessor
            config when the base model's dict has none (mmengine's
            ``Runner`` puts a config's top-level ``data_preprocessor``
            here). It is passed on to the base model, which owns it.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 model: Union[dict, nn.Module],
                 num_modules: Optional[int] = None,
                 split_points: Optional[Sequence[int]] = None,
                 balance: str = 'units',
                 balance_input_shape: Optional[Sequence[int]] = None,
                 stem_as_unit: Optional[bool] = None,
                 aux: Optional[dict] = None,
                 feature_bank: Optional[dict] = None,
                 shared_head_grad: str = 'mean',
                 with_cp: Optional[bool] = None,
                 step_per_module: Optional[bool] = None,
                 log_module_losses: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **unknown):
        if unknown:
            raise TypeError(unknown_keys_message(
                'LocalLearningModel', unknown, LocalLearningModel.__init__))
        model = self._build_base_model(model, data_preprocessor)
        # One preprocessor, the base model's: training, validation, the
        # stripped checkpoint and the plain config all normalise alike.
        super().__init__(
            data_preprocessor=model.data_preprocessor, init_cfg=init_cfg)
        self.model = model
        self.task = build_task_adapter(model)
        self.units = build_units(self.task.backbone, stem_as_unit,
                                 role=self.task.backbone_role)
        self.log_module_losses = log_module_losses

        # Frozen units (e.g. mmdet's frozen_stages) train nothing: they run
        # under no_grad in front of the first trainable module.
        all_units = self.units.units
        n_frozen = 0
        while n_frozen < len(all_units) and not all_units[n_frozen].trainable:
            n_frozen += 1
        self.frozen_units = all_units[:n_frozen]
        trainable = all_units[n_frozen:]
        if not trainable:
            raise ValueError('every backbone unit is frozen: nothing to train '
                             'locally (check backbone.frozen_stages).')
        if any(not u.trainable for u in trainable):
            raise ValueError(
                'frozen units must all come before the trainable ones; '
                f'got {[u.name for u in trainable if not u.trainable]} '
                'frozen after trainable units.')
        where = f'{type(self.task.backbone).__name__} ' \
                f'({len(trainable)} trainable units)'
        if balance not in ('units', 'memory'):
            raise ValueError(
                f"balance={balance!r} is not supported: use 'units' or "
                "'memory'.")
        costs = None
        if balance == 'memory' and split_points is None:
            if balance_input_shape is None:
                raise ValueError("balance='memory' needs balance_input_shape="
                                 '(C, H, W) to measure unit activations.')
            costs = self._unit_costs(balance_input_shape, trainable)
        groups = partition_units(len(trainable), num_modules, split_points,
                                 costs, where)

        aux = copy.deepcopy(aux) if aux is not None else dict(
            type=self.task.default_aux)
        if not isinstance(aux, dict) or 'type' not in aux:
            raise ValueError(f'aux must be a config dict with a type, got '
                             f'{aux!r}')
        aux_modules, local_modules = [], []
        for k, group in enumerate(groups):
            module_units = [trainable[i] for i in group]
            if k == len(groups) - 1:
                head = TaskHead(self.task)
            else:
                head = self._build_aux(aux, module_units[-1])
                aux_modules.append(head)
            local_modules.append(LocalModule(module_units, head, k))
        self.aux_heads = nn.ModuleList(aux_modules)
        # Not registered: they only re-group modules registered above, so
        # the state dict keeps the base model's layout.
        self._local_modules: List[LocalModule] = local_modules
        self._frozen_prefix = nn.Sequential(
            *[u.module for u in self.frozen_units])

        self._setup_shared_head_grads(shared_head_grad)
        self._setup_checkpointing(with_cp)
        self.step_per_module = step_per_module
        self._module_params = self._params_per_module()
        owned = {id(p) for ps in self._module_params for p in ps}
        # Stepped (and, distributed, reduced) once per iteration: the last
        # module's units and every parameter several modules use.
        self._final_params = [p for p in self.parameters()
                              if p.requires_grad and id(p) not in owned]

        self.feature_bank = FeatureBank()
        feature_bank = dict(feature_bank or {})
        feature_bank['taps'] = list(self.task.required_taps) + [
            t for t in feature_bank.get('taps', [])
            if t not in self.task.required_taps
        ]
        self._add_bank_taps(feature_bank)
        #: Whether an aux net reads the batch from the bank (InfoPro).
        self.bank_inputs = any(
            getattr(a, 'needs_inputs', False) for a in aux_modules)
        self._step = 0
        self._checked_wrappers = False

    def __getattr__(self, name: str):
        # Base-model parts that mmagic's hooks look up on the trained model
        # by name (its EMA hook: ``generator``, ``generator_ema``), for the
        # tasks that list them; everything else as nn.Module.
        try:
            return super().__getattr__(name)
        except AttributeError:
            task = self.__dict__.get('task')
            model = self._modules.get('model')
            if name in getattr(task, 'model_attributes', ()) and \
                    hasattr(model, name):
                return getattr(model, name)
            raise

    # ------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------
    @staticmethod
    def _build_base_model(model: Union[dict, nn.Module],
                          data_preprocessor: Optional[dict]) -> nn.Module:
        """Build the base model with the preprocessor the config meant.

        mmpretrain configs write ``data_preprocessor`` (mean, std,
        ``to_rgb``) at the top level, and mmengine's ``Runner`` merges it
        into the *outer* model dict -- this wrapper's. Handing it on to the
        base model gives it exactly what the Runner would have given the
        plain config; a preprocessor written inside the base model's own
        dict wins, as it does for the plain config.
        """
        if isinstance(model, nn.Module):
            if data_preprocessor is not None:
                print_log(
                    'LocalLearningModel got a built model and a '
                    'data_preprocessor: the built model keeps its own '
                    f'({type(model.data_preprocessor).__name__}).',
                    logger='current', level=logging.WARNING)
            return model
        if not isinstance(model, dict):
            raise TypeError('LocalLearningModel(model=...) takes a model '
                            f'config dict or an nn.Module, got {model!r}.')
        model = copy.deepcopy(model)
        if data_preprocessor is not None:
            inner = model.get('data_preprocessor')
            if inner is None:
                model['data_preprocessor'] = copy.deepcopy(
                    data_preprocessor)
            elif dict(inner) != dict(data_preprocessor):
                print_log(
                    'LocalLearningModel: the base model config sets its own '
                    'data_preprocessor, which is used; the outer one '
                    f'({dict(data_preprocessor)}) is ignored, as the Runner '
                    'ignores a top-level data_preprocessor for a model '
                    'that sets one.',
                    logger='current', level=logging.WARNING)
        return MODELS.build(model)

    def _build_aux(self, cfg: dict, last_unit) -> nn.Module:
        cfg = dict(cfg, task=self.task, units=self.units, last_unit=last_unit)
        try:
            return MODELS.build(cfg)
        except KeyError as e:
            if 'not in the' in str(e) and 'registry' in str(e):
                known = ', '.join(f'man_mm.{k}'
                                  for k in sorted(MODELS.module_dict)
                                  if k.endswith('Aux'))
                raise KeyError(
                    f"unknown aux type {cfg['type']!r}: use one of {known} "
                    '(see man_mm/models/aux_heads).') from e
            raise

    def _setup_shared_head_grads(self, mode: str) -> None:
        if mode not in ('mean', 'sum'):
            raise ValueError(f"shared_head_grad={mode!r}: use 'mean' or "
                             "'sum'.")
        # The last module always runs the real head; aux nets may share it.
        self.shared_head_users = 1 + sum(
            bool(getattr(lm.aux, 'share_head', False))
            for lm in self._local_modules[:-1])
        self._averaged_head_params = [
            p for head in self.task.head_modules()
            for p in head.parameters() if p.requires_grad
        ] if mode == 'mean' and self.shared_head_users > 1 else []

    def _setup_checkpointing(self, with_cp: Optional[bool]) -> None:
        if with_cp is None:
            with_cp = bool(getattr(self.task.backbone, 'with_cp', False))
        self.with_cp = bool(with_cp)
        for lm in self._local_modules:
            if self.with_cp:
                # Units and SLM blocks are checkpointed here, whole.
                disable_block_checkpointing(lm)
            lm.with_cp = self.with_cp
            if hasattr(lm.aux, 'with_cp'):
                lm.aux.with_cp = self.with_cp

    def _params_per_module(self) -> List[List[nn.Parameter]]:
        """Trainable parameters that belong to one local module alone (its
        units and its aux's own); shared ones (the task head) excluded."""
        head = {id(p) for h in self.task.head_modules()
                for p in h.parameters()}
        owners: Dict[int, int] = {}
        for lm in self._local_modules:
            for p in lm.parameters():
                owners[id(p)] = owners.get(id(p), 0) + 1
        return [[p for p in lm.parameters() if p.requires_grad
                 and id(p) not in head and owners[id(p)] == 1]
                for lm in self._local_modules[:-1]]

    def _add_bank_taps(self, cfg: dict) -> None:
        unknown = set(cfg) - {'taps'}
        if unknown:
            raise KeyError(f'feature_bank got unknown keys {sorted(unknown)};'
                           " it accepts only 'taps'.")
        for tap in cfg.get('taps', []):
            if tap == 'stages':
                # Every stage output, or those the task's neck reads.
                wanted = getattr(self.task, 'neck_stages', None)
                for unit in self.units.units:
                    if unit.is_stage_end and (wanted is None
                                              or unit.stage in wanted):
                        self.feature_bank.add_tap(f'stage{unit.stage}',
                                                  unit.module)
                continue
            try:
                module = self.model.get_submodule(tap)
            except AttributeError:
                raise KeyError(
                    f'feature bank tap {tap!r} is not a submodule of the base'
                    " model; use 'stages' or a path such as "
                    "'backbone.layer1'.") from None
            self.feature_bank.add_tap(tap, module)

    def _unit_costs(self, input_shape, trainable) -> List[float]:
        costs = []
        x = torch.zeros(2, *input_shape)
        was_training = self.model.training
        self.model.train()
        with torch.no_grad():
            for u in self.frozen_units:
                x = u.module(x)
        for u in trainable:
            with ActivationMemoryMeter.for_model(self.model) as meter:
                y = u.module(x.detach().requires_grad_())
                costs.append(float(meter.peak_bytes))
            x = y.detach()
        self.model.train(was_training)
        return costs

    # ------------------------------------------------------------------
    # properties
    # ------------------------------------------------------------------
    @property
    def local_modules(self) -> List[LocalModule]:
        """The K local modules, in forward order."""
        return self._local_modules

    @property
    def num_modules(self) -> int:
        """Effective K (trainable local modules)."""
        return len(self._local_modules)

    def describe(self) -> str:
        """One line per local module, for logs."""
        lines = [f'local learning: K={self.num_modules} trainable modules'
                 + (f' after {len(self.frozen_units)} frozen units'
                    if self.frozen_units else '')]
        for lm in self._local_modules:
            aux = type(lm.aux).__name__
            n_aux = sum(p.numel() for p in lm.aux.parameters())
            lines.append(f'  module {lm.index:2d}: {lm.unit_names[0]} .. '
                         f'{lm.unit_names[-1]}  aux={aux} ({n_aux} params)')
        return '\n'.join(lines)

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'LocalLearningModel':
        """``nn.Module.train``, then the base model's own ``train(mode)``
        again: the frozen units are registered twice (in the base model
        and in ``_frozen_prefix``), and the plain recursion would leave
        them in training mode after the base model's ``train`` (mmdet's
        ResNet with ``frozen_stages``/``norm_eval``) put them in eval --
        their BatchNorm would then normalise by batch statistics and
        update its running ones, unlike BP's."""
        super().train(mode)
        self.model.train(mode)
        return self

    def frozen_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the frozen units (no aux, no graph)."""
        if not self.frozen_units:
            return inputs
        with torch.no_grad():
            return self._frozen_prefix(inputs)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """One local-learning iteration: K local forward/backward passes,
        then one optimizer step (when gradient accumulation says so)."""
        data = self.data_preprocessor(data, True)
        if hasattr(self.task, 'pop_output'):
            # A GAN restorer: local generator steps, then mmagic's own
            # discriminator step.
            if not isinstance(optim_wrapper, OptimWrapperDict):
                raise TypeError(
                    f'{type(self.model).__name__} trains with one optimizer '
                    "per network (optim_wrapper['generator'] and "
                    "['discriminator']), as mmagic's configs build them; "
                    f'got one {type(optim_wrapper).__name__}. Use '
                    "constructor='MultiOptimWrapperConstructor' with "
                    "generator=dict(modules=['model.generator', "
                    "'aux_heads'], ...), discriminator=dict(modules="
                    "'model.discriminator', ...).")
            if not self._checked_wrappers:
                check_adversarial_setup(self, optim_wrapper)
                self._checked_wrappers = True
            return adversarial_train_step(self, data['inputs'],
                                          data['data_samples'],
                                          optim_wrapper)
        return self.local_train_step(data['inputs'], data['data_samples'],
                                     optim_wrapper)

    def local_train_step(self, inputs: torch.Tensor, data_samples,
                         optim_wrapper: OptimWrapper,
                         grad_sync: Optional[GradSync] = None,
                         stage: Optional[StageSlice] = None,
                         handoff: Optional[Callable] = None
                         ) -> Dict[str, torch.Tensor]:
        """K local forward/backward passes and the optimizer step(s).

        Args:
            inputs (Tensor): The preprocessed batch.
            data_samples: The batch's data samples (targets).
            optim_wrapper (OptimWrapper): One wrapper over all parameters.
            grad_sync (GradSync, optional): Synchronises gradients across
                processes (:class:`LocalDistributedDataParallel` passes a
                :class:`GradientSync`); the calls and their order are
                :class:`GradSync`'s. With per-module steps, module k steps
                after module k+1's backward, so its communication overlaps
                that compute; the result is the same, since no later module
                reads module k's parameters.
            stage (StageSlice, optional): Run only a pipeline stage's
                modules (:class:`LocalPipelineParallel`); ``inputs`` is
                then the previous stage's output unless the stage starts
                at module 0. The optimizer steps what has gradients: this
                stage's parameters (and a shared head).
            handoff (callable, optional): ``handoff(output, bank)``, called
                with the stage's detached output and feature bank right
                after its last module's backward, before the final step,
                so the next stage can start; not called when the stage
                ends with the model's last module.

        Returns:
            dict: The log variables (``loss``, ``loss_aux``, ...).
        """
        if not isinstance(optim_wrapper, OptimWrapper) or isinstance(
                optim_wrapper, OptimWrapperDict):
            raise TypeError(
                'LocalLearningModel needs a single OptimWrapper (one '
                'optimizer over all modules and aux nets); got '
                f'{type(optim_wrapper).__name__}. (An OptimWrapperDict '
                'trains the adversarial restorers -- SRGAN, ESRGAN, '
                'Real-ESRGAN -- in one process.)')
        per_module = self.steps_per_module(optim_wrapper)
        # Gradient accumulation: every local backward of this iteration
        # counts as one iteration's backward, so scale_loss/should_update
        # behave exactly as for BP.
        count = inner_count(optim_wrapper)
        log_vars = {}
        # Gradient already in the shared head (accumulation) is kept as is;
        # this iteration's K contributions are averaged below.
        head_before = [p.grad.clone() if p.grad is not None else None
                       for p in self._averaged_head_params]
        sync = grad_sync if grad_sync is not None and grad_sync.begin(
            optim_wrapper) else None
        pending = None  # a module whose step waits for its communication
        stop = self.num_modules - 1 if stage is None else stage.last
        for step in local_steps(self, inputs, data_samples,
                                optim_wrapper.optim_context, stage):
            lm = step.module
            loss, module_log = self.parse_losses(step.losses)
            self._check_finite(loss, module_log, lm)
            set_inner_count(optim_wrapper, count)
            # Frees this module's graph now: the memory saving.
            optim_wrapper.backward(optim_wrapper.scale_loss(loss))
            log_vars[f'loss_m{lm.index:02d}'] = module_log['loss'].detach()
            if lm.index == stop and handoff is not None and not step.is_last:
                handoff(step.output.detach(), self.feature_bank)
            del step, loss
            if lm.index == self.num_modules - 1:
                continue
            if sync is not None:
                sync.module_done(lm.index, self._module_params[lm.index])
            if not per_module:
                continue
            if sync is None:
                self._step_params(optim_wrapper,
                                  self._module_params[lm.index])
                continue
            if pending is not None:
                self._sync_and_step(sync, optim_wrapper, pending)
            pending = lm.index
        if pending is not None:
            self._sync_and_step(sync, optim_wrapper, pending)
        for p, before in zip(self._averaged_head_params, head_before):
            if p.grad is not None:
                if before is None:
                    p.grad.div_(self.shared_head_users)
                else:
                    p.grad.sub_(before).div_(
                        self.shared_head_users).add_(before)
        if sync is not None:
            sync.finish(self._final_params)
        set_inner_count(optim_wrapper, count + 1)
        if optim_wrapper.should_update():
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        self._step += 1
        return self._summarise(log_vars, module_log)

    def steps_per_module(self, optim_wrapper: OptimWrapper) -> bool:
        """Whether an iteration with ``optim_wrapper`` steps each module
        right after its local backward (see ``step_per_module``).

        Raises:
            ValueError: ``step_per_module=True`` with a wrapper that cannot
                (AMP, gradient accumulation).
        """
        if self.step_per_module is False:
            return False
        why_not = None
        if isinstance(optim_wrapper, AmpOptimWrapper):
            why_not = 'AMP (AmpOptimWrapper) unscales once per step'
        elif accumulative_counts(optim_wrapper) != 1:
            why_not = 'gradient accumulation steps every ' \
                f'{accumulative_counts(optim_wrapper)} iterations'
        elif optim_wrapper.clip_grad_kwargs and not self.step_per_module:
            # Exactness first: a global norm needs every gradient at once.
            return False
        if why_not is None:
            return True
        if self.step_per_module:
            raise ValueError(f'step_per_module=True is not possible: '
                             f'{why_not}. Use step_per_module=None (one '
                             'step per iteration then) or change the '
                             'optim_wrapper.')
        return False

    def _sync_and_step(self, sync, optim_wrapper: OptimWrapper,
                       index: int) -> None:
        sync.wait(index)
        self._step_params(optim_wrapper, self._module_params[index])

    @staticmethod
    def _step_params(optim_wrapper: OptimWrapper,
                     params: List[nn.Parameter]) -> None:
        """Step (and clip, if configured) ``params`` only; free their
        gradients."""
        with restricted_param_groups(optim_wrapper.optimizer, params):
            optim_wrapper.step()
        for p in params:
            p.grad = None

    def _summarise(self, per_module: Dict[str, torch.Tensor],
                   final_log: Dict[str, torch.Tensor]) -> dict:
        # 'loss' is the real task loss (last module); the aux losses are
        # summarised, and listed per module on request.
        out = {k: v.detach() for k, v in final_log.items()}
        aux = list(per_module.values())[:-1]
        if aux:
            out['loss_aux'] = torch.stack(aux).mean()
        if self.log_module_losses:
            out.update(per_module)
        return out

    def _check_finite(self, loss, log_vars, lm: LocalModule) -> None:
        if torch.isfinite(loss):
            return
        it = MessageHub.get_current_instance().get_info('iter')
        it = self._step if it is None else it
        parts = ', '.join(f'{k}={float(v.detach()):.4g}'
                          for k, v in log_vars.items())
        raise NonFiniteLocalLossError(
            f'non-finite loss in local module {lm.index} '
            f'({lm.unit_names[0]} .. {lm.unit_names[-1]}, aux '
            f'{type(lm.aux).__name__}) at iteration {it}: {parts}. Lower '
            'the learning rate, enable optim_wrapper.clip_grad, or check the '
            'input data.')

    # ------------------------------------------------------------------
    # forward / inference: the base model's
    # ------------------------------------------------------------------
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """``predict``/``tensor`` delegate to the base model. ``loss``
        returns every module's local loss from one gradient-isolated
        forward (no memory saving; for inspection and DDP-style wrappers)."""
        if mode != 'loss':
            return self.model(inputs, data_samples, mode=mode)
        losses = {}
        for step in local_steps(self, inputs, data_samples):
            prefix = '' if step.is_last else f'm{step.module.index:02d}.'
            for name, value in step.losses.items():
                losses[prefix + name] = value
        return losses
