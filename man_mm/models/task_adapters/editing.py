"""Task adapter for mmagic's single-image super-resolution models."""
from typing import Dict, List

import torch
from torch import nn

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .base import TaskAdapter, reaches


@TASK_ADAPTERS.register_module()
class EditTaskAdapter(TaskAdapter):
    """mmagic ``BaseEditModel`` with an EDSR-style generator.

    The split network is the generator (``model.generator``); its tail --
    ``conv_after_body``, the global skip, ``upsample``, ``conv_last`` and
    de-normalisation -- is the task head, and the task loss is the base
    model's own ``pixel_loss`` against ``data_samples.gt_img``, exactly as
    ``BaseEditModel.forward_train`` computes it.

    The global skip adds the *shallow feature* (``conv_first``'s output).
    The feature bank keeps it, detached, under ``'generator.conv_first'``
    for the modules that come after the one holding ``conv_first``. The
    module that computes it (module 0, or the only module at K=1) uses it
    live instead, so its gradient reaches ``conv_first`` through the skip as
    in the real network, and K=1 is BP.
    """
    head_names = ('conv_after_body', 'upsample', 'conv_last')
    #: The shallow feature: the generator's ``conv_first`` output.
    shallow_key = 'generator.conv_first'
    required_taps = (shallow_key, )
    default_aux = 'man_mm.SLMSRAux'
    backbone_role = 'generator'
    supported_names = ('mmagic BaseEditModel (single-image SR: EDSR, '
                       'generator with conv_first/body/conv_after_body/'
                       'upsample/conv_last)')

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.base_models', 'BaseEditModel')

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self._live_shallow = None
        conv_first = getattr(self.backbone, 'conv_first', None)
        if conv_first is not None:
            conv_first.register_forward_hook(self._keep_live_shallow)

    @property
    def backbone(self) -> nn.Module:
        return self.model.generator

    def head_modules(self) -> List[nn.Module]:
        return [getattr(self.backbone, n) for n in self.head_names]

    def _keep_live_shallow(self, module, inputs, output):
        # Only in training forwards that build a graph (local steps).
        if module.training and torch.is_grad_enabled():
            self._live_shallow = output

    def shallow_feature(self, feats: torch.Tensor, bank) -> torch.Tensor:
        """The shallow feature for the global skip of ``feats``'s module:
        live if that module computed it (it is in ``feats``'s graph),
        otherwise the bank's detached copy."""
        live = self._live_shallow
        if live is not None and reaches(feats.grad_fn, live.grad_fn):
            return live
        if bank is None:
            raise KeyError('the global skip needs the shallow feature from '
                           'the feature bank, and no bank was given.')
        return bank[self.shallow_key]

    def loss(self, feats, data_samples, heads=None, bank=None,
             global_skip: bool = True) -> Dict[str, torch.Tensor]:
        """Pixel loss of the image reconstructed from body features.

        Args:
            feats (Tensor): Body features (a local module's output, or its
                aux's SLM block output), ``(N, mid_channels, h, w)``.
            data_samples (DataSample): The stacked mmagic data sample
                (``gt_img`` normalised by the data preprocessor).
            heads (list[nn.Module], optional): ``conv_after_body``,
                ``upsample``, ``conv_last`` to run; the generator's own by
                default (the last module: the real tail).
            bank (FeatureBank, optional): Source of the shallow feature.
            global_skip (bool): Add the shallow feature before upsampling
                (EDSR's global residual). Defaults to True.

        Returns:
            dict[str, Tensor]: ``{'loss': pixel loss}``, as
            ``BaseEditModel.forward_train``.
        """
        real = heads is None
        conv_after_body, upsample, conv_last = \
            self.head_modules() if real else heads
        generator = self.backbone
        res = conv_after_body(feats)
        if global_skip:
            res = res + self.shallow_feature(feats, bank)
        out = conv_last(upsample(res))
        out = out * generator.std.to(out) + generator.mean.to(out)
        loss = self.model.pixel_loss(out, data_samples.gt_img)
        if real:  # the last module of the iteration: drop the reference
            self._live_shallow = None
        return dict(loss=loss)
