"""Simple Local Module (SLM) auxiliary networks (paper eq. 4)."""

from torch import nn

from man_mm.registry import MODELS
from ..layers.checkpoint import run_blocks
from ..splitters.base import fresh_copy


def owned_or_shared_heads(task, share_head: bool, owner: nn.Module):
    """The task-head modules an aux net runs: the base model's, or its own.

    Shared heads are kept in a plain list so they are not registered twice
    (the checkpoint keeps one copy, under the base model). Own heads are
    fresh, re-initialised copies registered on ``owner``.
    """
    heads = task.head_modules()
    if share_head:
        return list(heads)
    owner.own_heads = nn.ModuleList([fresh_copy(h) for h in heads])
    return list(owner.own_heads)


@MODELS.register_module()
class SLMClsAux(nn.Module):
    """SLM auxiliary net for classification.

    A down-sized replica of the rest of the backbone -- one fresh block for
    the remainder of the current stage, one per later stage -- followed by
    the task's neck and head.

    Args:
        task (TaskAdapter): Adapter of the base model.
        units (ResNetUnits): The split backbone.
        last_unit (Unit): The last unit of the local module this aux trains.
        share_head (bool): Use the base model's neck/head (their weights then
            also learn from this aux loss) or own fresh copies.
            Defaults to True (the paper's best, Table 4).

    Attributes:
        with_cp (bool): Checkpoint each SLM block (set by
            :class:`LocalLearningModel`).
    """

    def __init__(self, task, units, last_unit, share_head: bool = True):
        super().__init__()
        self._task = task
        self.share_head = share_head
        self.with_cp = False
        self.blocks = units.fresh_blocks_after(last_unit)
        self.heads = owned_or_shared_heads(task, share_head, self)

    def forward(self, x, data_samples, bank):
        x = run_blocks(self.blocks, x, self.with_cp)
        return self._task.loss(x, data_samples, self.heads, bank=bank)

    def extra_repr(self):
        return f'share_head={self.share_head}'


@MODELS.register_module()
class SLMDetAux(nn.Module):
    """MAN auxiliary net for detection: local FPN inputs + the real head.

    With ``adapt=True`` (MAN), a module that ends in stage ``s`` gets a
    *local feature pyramid*: stages ``< s`` from the feature bank (what
    earlier modules produced this iteration, detached), stage ``s`` from its
    own output (after one fresh block for the rest of the stage, if any),
    stages ``> s`` from one fresh block each (SLM). The neck and head then
    run as in the base detector. With ``adapt=False`` (paper Table 4, first
    rows) there is neither bank nor SLM: the module output is resized to
    every level (:class:`ResizePyramid`).

    Args:
        task (DetTaskAdapter): Adapter of the detector.
        units (ResNetUnits): The split backbone.
        last_unit (Unit): Last unit of the module this aux trains.
        adapt (bool): SLM + feature bank on (MAN) or off. Defaults to True.
        share_head (bool): Run the detector's own neck/head (which then also
            learn from this loss) or fresh copies. Defaults to True.
        width (float): Lean switch, off by default: inner width of the SLM
            blocks relative to the backbone's blocks (their input and
            output widths are kept, so the bank and the neck fit). 1.0 is
            the paper's SLM. ResNet backbones only.

    Attributes:
        with_cp (bool): Checkpoint each SLM block (set by
            :class:`LocalLearningModel`).

    Note:
        Checkpointing the neck and head inside an aux does not lower the
        peak: the local backward starts right after the loss, so the
        recomputed head would coexist with the module's and the SLM's
        activations (measured: +21% time, no real saving). A lean aux needs
        a lighter head, not recomputation.
    """

    def __init__(self, task, units, last_unit, adapt: bool = True,
                 share_head: bool = True, width: float = 1.0):
        super().__init__()
        self._task = task
        self.adapt, self.share_head = adapt, share_head
        self.width = width
        self.with_cp = False
        s = last_unit.stage
        self.stage = s
        wanted = task.neck_stages
        if adapt:
            rest = units.fresh_blocks_after(last_unit, width=width)
            n_rest = len(rest) - (units.num_stages - 1 - s)
            self.rest = nn.Sequential(*list(rest)[:n_rest])
            self.later = nn.ModuleList(list(rest)[n_rest:])
        else:
            from .pyramid import ResizePyramid
            self.pyramid = ResizePyramid(
                units.stage_out_channels(s), s,
                {t: units.stage_out_channels(t) for t in wanted})
        self.heads = owned_or_shared_heads(task, share_head, self)

    def stage_features(self, x, bank) -> dict:
        if not self.adapt:
            return self.pyramid(x)
        s = self.stage
        feats = {t: bank[f'stage{t}'] for t in range(s)
                 if t in self._task.neck_stages}
        x = run_blocks(self.rest, x, self.with_cp)
        feats[s] = x
        later = run_blocks(self.later, x, self.with_cp, keep_all=True)
        feats.update(enumerate(later, start=s + 1))
        return feats

    def forward(self, x, data_samples, bank):
        feats = self.stage_features(x, bank)
        return self._task.loss(feats, data_samples, self.heads, bank=bank)

    def extra_repr(self):
        return (f'stage={self.stage}, adapt={self.adapt}, '
                f'share_head={self.share_head}, width={self.width}')
