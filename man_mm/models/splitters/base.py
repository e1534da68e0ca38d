"""The base class of the unit splitters: what a new one must provide.

A unit splitter cuts one backbone family into :class:`Unit`\\ s and
builds the fresh layers of the SLM aux nets. :class:`BackboneUnits` holds
what every splitter does the same way (the type check with the message that
lists the supported backbones, ``backbone``, ``stem_as_unit``, ``units``,
``len()``, ``num_stages``); a subclass says what differs.
"""
import copy
from dataclasses import dataclass
from typing import List, Optional, Tuple, Type

from torch import nn

from man_mm.registry import unsupported_message


def several_outputs(cfg: dict) -> Optional[str]:
    """A backbone config's reason for refusal when it asks for several
    ``out_indices`` (dense prediction), else None."""
    indices = cfg.get('out_indices')
    if indices is not None and not isinstance(indices, int) and \
            len(list(indices)) > 1:
        return (f'out_indices={tuple(indices)}: several outputs (dense '
                'prediction; classification layout only)')
    return None


@dataclass
class Unit:
    """One indivisible piece of the backbone.

    Attributes:
        name (str): Readable name, e.g. ``'stem'`` or ``'layer2.3'``.
        module (nn.Module): The backbone's own module (not a copy).
        stage (int): Stage index; ``-1`` for a stand-alone stem.
        index (int): Block index inside the stage (``-1`` for the stem).
        is_stage_end (bool): Whether the unit's output is its stage's output
            (the feature an FPN or a feature bank would take).
    """
    name: str
    module: nn.Module
    stage: int
    index: int
    is_stage_end: bool

    @property
    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.module.parameters())



class StemAndBlock(nn.Sequential):
    """The stem fused with the first block, as ImageNet ResNet units are."""



def fresh_copy(module: nn.Module) -> nn.Module:
    """Same architecture as ``module``, new trainable parameters.

    Deep-copying keeps the block type, width, stride and downsample of any
    block family; every layer is then re-initialised with its own
    ``reset_parameters`` so no backbone weight leaks into an auxiliary net.
    """
    new = copy.deepcopy(module)
    for m in new.modules():
        if hasattr(m, 'reset_parameters'):
            m.reset_parameters()
    for p in new.parameters():
        p.requires_grad_(True)
    new.train()
    return new


class BackboneUnits:
    """Units and stage layout of a built backbone (base class).

    A subclass, registered with ``@UNIT_SPLITTERS.register_module()``,
    provides:

    - ``supported_names`` (str): what it accepts, for error messages.
    - ``supported_types()`` (classmethod): the backbone classes it accepts
      (subclasses too); ``()`` or ``ImportError`` when their library is
      missing (:func:`man_mm.utils.optional_types` does both).
    - ``_init_stages()``: set ``self.stages`` (the stage modules, in forward
      order) and ``self.stage_names``, plus anything ``_build_units`` needs;
      raise ``ValueError`` for a configuration it cannot split.
    - ``_build_units()``: the list of ``Unit(name, module, stage, index,
      is_stage_end)`` whose modules are the backbone's *own* submodules (not
      copies) and, run in order, reproduce ``backbone(x)``'s last output
      exactly (each unit takes and returns one tensor). For detectors, the
      stage indices are the backbone's ``out_indices`` (the bank keys are
      ``'stage{i}'``).
    - ``stage_out_channels(stage)``: output channels of ``stage``.
    - ``fresh_blocks_after(unit, width=1.0)``: an ``nn.Sequential`` of
      *fresh* layers (new parameters, e.g. :func:`fresh_copy`) finishing the
      network after ``unit``: one block for the rest of its stage, then one
      per later stage.

    It may override ``_default_stem_as_unit()`` (False here) and ``role``.

    Args:
        backbone (nn.Module): A built backbone of one of
            ``supported_types()``.
        stem_as_unit (bool, optional): Make the stem a unit of its own;
            ``None`` for the splitter's default.

    Raises:
        TypeError: ``backbone`` is not one of ``supported_types()``; the
            message lists the registered splitters and how to add one.

    Attributes:
        backbone (nn.Module): The backbone, split in place.
        stem_as_unit (bool): Whether the stem is a unit of its own.
        stages (list[nn.Module]): The stage modules, set by
            ``_init_stages()``.
        stage_names (list[str]): Their names.
        units (list[Unit]): The units, in forward order.
    """
    #: What the splitter accepts, for error messages.
    supported_names: str = ''
    #: What to call the backbone in error messages (EDSR: ``'generator'``).
    role: str = 'backbone'

    @classmethod
    def supported_types(cls) -> Tuple[Type, ...]:
        """The backbone classes this splitter accepts (subclasses too)."""
        raise NotImplementedError

    def __init__(self, backbone: nn.Module, stem_as_unit=None):
        if not isinstance(backbone, self.supported_types()):
            raise TypeError(unsupported_message(backbone, self.role))
        self.backbone = backbone
        if stem_as_unit is None:
            stem_as_unit = self._default_stem_as_unit()
        self.stem_as_unit = bool(stem_as_unit)
        self.stages: List[nn.Module] = []
        self.stage_names: List[str] = []
        self._init_stages()
        self.units: List['Unit'] = self._build_units()

    @classmethod
    def refusal(cls, backbone_cls: type, cfg: dict) -> Optional[str]:
        """Why this splitter would refuse a backbone of ``backbone_cls``
        built from ``cfg``, read from the config alone (no build), or
        ``None``. Used by ``tools/analysis_tools/zoo_coverage.py``; the
        build's own checks stay authoritative."""
        return None

    def _default_stem_as_unit(self) -> bool:
        """``stem_as_unit`` when the caller gives ``None``."""
        return False

    def _init_stages(self) -> None:
        """Set ``self.stages`` and ``self.stage_names`` (and anything
        ``_build_units`` needs) from ``self.backbone``."""
        raise NotImplementedError

    def _build_units(self) -> List['Unit']:
        """The units, in forward order."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.units)

    @property
    def num_stages(self) -> int:
        """Number of stages (``len(self.stages)``)."""
        return len(self.stages)

    def stage_out_channels(self, stage: int) -> int:
        """Output channels of ``stage``."""
        raise NotImplementedError

    def fresh_blocks_after(self, unit: 'Unit',
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``.

        Args:
            unit (Unit): The last unit before the fresh layers.
            width (float): Inner width of the fresh blocks relative to the
                backbone's; 1.0 is the paper's SLM. A splitter that cannot
                narrow its blocks refuses other values
                (:meth:`check_width`).
        """
        raise NotImplementedError

    def make_unit(self, name: str, parts: List[nn.Module], stage: int,
                  index: int, is_stage_end: bool,
                  final_layer: Optional[nn.Module] = None) -> 'Unit':
        """A unit made of ``parts`` run in order (e.g. a stage's downsample
        layer and its first block); the network's last unit also runs
        ``final_layer`` (e.g. the final norm, named ``'+norm'``)."""
        if final_layer is not None and is_stage_end and \
                stage == self.num_stages - 1:
            parts, name = [*parts, final_layer], name + '+norm'
        module = parts[0] if len(parts) == 1 else nn.Sequential(*parts)
        return Unit(name, module, stage, index, is_stage_end)

    def check_width(self, width: float) -> None:
        """Refuse a ``width`` this splitter cannot build."""
        if width != 1.0:
            raise ValueError(
                f'SLM width={width} needs a splitter that can narrow its '
                f'blocks; {type(self).__name__} cannot (ResNetUnits can). '
                'Use width=1.0, the paper\'s SLM.')
