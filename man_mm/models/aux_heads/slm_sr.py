"""MAN auxiliary net for super-resolution (mmagic EDSR and the other
split SR generators)."""
from torch import nn

from man_mm.registry import MODELS
from ..layers.checkpoint import run_blocks
from .slm import owned_or_shared_heads


@MODELS.register_module()
class SLMSRAux(nn.Module):
    """SLM auxiliary net for an EDSR generator (paper §4.3, Fig. 4).

    With ``adapt=True`` (MAN): one fresh residual block (EDSR's body is a
    single stage, so its SLM replica is one layer), then the generator's tail
    as the real network runs it: ``conv_after_body``, the global skip that
    adds the shallow feature (``conv_first``'s output, from the feature bank;
    live in the module that computes it), ``upsample``, ``conv_last``,
    de-normalisation, and the base model's own pixel loss against the ground
    truth.

    With ``adapt=False`` (paper Table 4's "Adapt" off: neither SLM nor
    feature bank), the module output goes straight into the tail, without the
    global skip: plain local learning, which the paper reports to fall far
    behind on SR for lack of the shallow feature. It needs the module output
    to be as wide as the body's last (SRCNN's ``conv1`` is not: refused).
    For RDN, whose gff reads every RDB output, the module output then fills
    every gff slot.

    Args:
        task (EditTaskAdapter): Adapter of the mmagic ``BaseEditModel``.
        units (EDSRUnits): The split generator.
        last_unit (Unit): The last unit of the module this aux trains.
        adapt (bool): SLM block + feature bank (global skip) on. Defaults to
            True.
        share_head (bool): Run the generator's own tail (its weights then
            also learn from this aux loss) or an own fresh copy. Defaults to
            True (the paper's best, Table 4).

    Attributes:
        with_cp (bool): Checkpoint the SLM block (set by
            :class:`LocalLearningModel`).
    """

    def __init__(self, task, units, last_unit, adapt: bool = True,
                 share_head: bool = True):
        super().__init__()
        self._task = task
        self.adapt, self.share_head = adapt, share_head
        self.with_cp = False
        if not adapt:
            width = units.stage_out_channels(last_unit.stage)
            wanted = units.stage_out_channels(units.num_stages - 1)
            if width != wanted:
                raise ValueError(
                    f'SLMSRAux(adapt=False) feeds the output of unit '
                    f'{last_unit.name!r} ({width} channels) straight into '
                    f'the tail, which reads {wanted}; only the SLM '
                    '(adapt=True) can bridge them.')
        self.blocks = units.fresh_blocks_after(last_unit) if adapt else \
            nn.Sequential()
        self.heads = owned_or_shared_heads(task, share_head, self)

    def forward(self, x, data_samples, bank):
        x = run_blocks(self.blocks, x, self.with_cp)
        return self._task.loss(x, data_samples, self.heads,
                               bank=bank if self.adapt else None,
                               global_skip=self.adapt)

    def extra_repr(self):
        return f'adapt={self.adapt}, share_head={self.share_head}'
