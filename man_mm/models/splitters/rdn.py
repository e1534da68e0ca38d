"""Cut mmagic's RDN generator into units.

**RDN** (``mmagic.models.RDNNet``) runs ``sfe1`` (the shallow feature)
-> ``sfe2`` -> RDB_1 .. RDB_D (``rdbs``) -> ``gff`` on the concatenation of
*all D* RDB outputs -> ``+ sfe1`` (the global skip) -> ``upscale`` ->
``output``. A unit is one RDB; ``sfe1`` and ``sfe2`` (the stem) go with the
first. The trunk is one stage. The task head
(:class:`man_mm.models.task_adapters.EditTaskAdapter`) is ``gff``, the
global skip, ``upscale`` and ``output``.

Why cutting between RDBs is sound: the dense long skip enters the head
only -- each RDB reads its predecessor's output alone, so the trunk is a
single chain and one tensor carries the state from one local module to the
next. The gff is then a head that reads several trunk outputs, the way a
detector's FPN reads several backbone stages
(:class:`~man_mm.models.task_adapters.DetTaskAdapter`), and is handled the
same way. The feature bank keeps every RDB output but the last (and
``sfe1``), detached. A local module ending at RDB k feeds the gff

- the outputs of the RDBs *before* the module from the bank (detached: no
  gradient reaches an earlier module),
- the outputs of its own RDBs live (the gff's gradient reaches them through
  the dense skip, as in BP),
- for RDBs k+1 .. D, which have not run yet, the output of its SLM.

The SLM is *one* fresh RDB (same width, growth and depth as the
generator's, new weights) on the module's output; its output stands in for
*every* missing later RDB output, repeated in their gff slots. Why one block
and not a chain of D - k fresh RDBs: the paper's SLM is a down-sized
replica of the rest, one block per remaining stage, and RDN's trunk is one
stage; a chain would make an early module's aux cost nearly the whole
rest of the network, undoing the memory saving. Why repeat it rather than
zero-fill the later slots: every RDB output is a residual update of the
previous one (``x + lff(...)``), so the next block's output is the natural
proxy for each later one and keeps the gff's input in the range the real
network gives it; zeros (a layout the real network never produces) would
train the shared gff on inputs it never sees. The gff keeps its
``D x mid_channels`` input, so the aux runs the generator's own (shared)
tail. The last module's head reads the earlier RDB outputs from the bank
too, so no gradient crosses modules, and its own RDBs get exactly BP's
gradient; with K = 1 every RDB output is live and training is exactly BP.
An aux's loss is, as every SLM's, a stand-in for the real one: with the
shared head, the gff weights of the later slots also learn from the SLM
output there.
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, StemAndBlock, Unit


class RDNStem(nn.Module):
    """``sfe2(sfe1(x))`` of an ``RDNNet`` (its own convs; ``sfe1``'s output
    is the shallow feature of the global skip)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.sfe1 = generator.sfe1
        self.sfe2 = generator.sfe2

    def forward(self, x):
        return self.sfe2(self.sfe1(x))


@UNIT_SPLITTERS.register_module()
class RDNNetUnits(BackboneUnits):
    """Units of an mmagic ``RDNNet``: its residual dense blocks (``rdbs``).

    See the module docstring for why the gff's dense long skip allows the
    cut.

    Args:
        backbone (RDNNet): The generator of an mmagic ``BaseEditModel``.
        stem_as_unit (bool, optional): Make ``sfe1`` + ``sfe2`` a unit of
            its own. Defaults to False: they go with the first RDB.
    """
    supported_names = 'mmagic.RDNNet (generator of BaseEditModel)'
    role = 'generator'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.rdn.rdn_net', 'RDNNet')

    def _init_stages(self):
        """The RDBs are the only stage."""
        self.stages = [self.backbone.rdbs]
        self.stage_names = ['rdbs']

    def _build_units(self) -> List[Unit]:
        stem = RDNStem(self.backbone)
        rdbs = self.backbone.rdbs
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', stem, -1, -1, False))
        for i, block in enumerate(rdbs):
            module, name = block, f'rdbs.{i}'
            if i == 0 and not self.stem_as_unit:
                module, name = StemAndBlock(stem, block), 'stem+rdbs.0'
            units.append(Unit(name, module, 0, i, i == len(rdbs) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        """Every RDN trunk feature has ``mid_channels`` channels (read from
        ``sfe1``, as LIIF's RDN encoder keeps no ``mid_channels``)."""
        return self.backbone.sfe1.out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """One fresh RDB if any RDB follows ``unit`` (its output stands in
        for every later RDB's in the gff), built as RDN builds its own: the
        width, growth and depth of its first RDB."""
        self.check_width(width)
        from mmagic.models.editors.rdn.rdn_net import RDB
        rdbs = self.backbone.rdbs
        if unit.stage >= 0 and unit.index == len(rdbs) - 1:
            return nn.Sequential()
        first = rdbs[0]
        block = RDB(self.stage_out_channels(0),
                    first.layers[0].conv.out_channels, len(first.layers))
        block.train(rdbs.training)
        return nn.Sequential(block)
