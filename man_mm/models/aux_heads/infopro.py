"""InfoPro auxiliary net (Wang et al., 2021), a Table 1 baseline."""
import torch.nn.functional as F
from torch import nn

from man_mm.registry import MODELS
from ._cls_common import (PoolLinear, cross_entropy, depth_fraction,
                          in_channels_of, interpolate, num_classes_of)


@MODELS.register_module()
class InfoProClsAux(nn.Module):
    """Information-propagation loss: reconstruct the input, classify.

    A decoder reconstructs the input image (in ``[0, 1]``, as InfoPro's
    ``_image_restore`` does; binary cross-entropy on a sigmoid output, as
    its ``Decoder``) from the module's features -- keeping
    task-irrelevant information, InfoPro's remedy for greedy collapse --
    and a pooled linear head predicts the label. The local loss is
    ``recon_weight * BCE + cls_weight * CE``. The input is read from the
    feature bank (key ``'inputs'``), which the model fills at the start of
    every iteration.

    The weights change linearly with depth, as in InfoPro's code
    (``ixx_r = ixx_1 (1 - r) + ixx_2 r``, ``r = i / (K - 2)``). The defaults
    are its ResNet-32 K=16 CIFAR-10 command (``--ixx_1 5 --ixy_1 0.05
    --ixx_2 0.2 --ixy_2 0.5``, InfoPro-Pytorch ``comand.sh``): the first
    modules mostly reconstruct, the last ones mostly classify.

    Args:
        task, units, last_unit: As for every aux net.
        decoder_channels (int): Width of the decoder. Defaults to 12.
        recon_weight (float | tuple[float, float]): Weight of the
            reconstruction term, or (first module, last aux) to interpolate.
            Defaults to (5.0, 0.2).
        cls_weight (float | tuple[float, float]): Weight of the
            classification term, likewise. Defaults to (0.05, 0.5).
    """

    #: Ask the model to put the preprocessed batch in the bank as 'inputs'.
    needs_inputs = True

    def __init__(self, task, units, last_unit, decoder_channels: int = 12,
                 recon_weight=(5.0, 0.2), cls_weight=(0.05, 0.5)):
        super().__init__()
        frac = depth_fraction(units, last_unit)
        c = in_channels_of(units, last_unit)
        # InfoPro's decoder, on features upsampled to the image size; its
        # sigmoid is folded into the loss (BCE with logits, same value).
        self.decoder = nn.Sequential(
            nn.Conv2d(c, decoder_channels, 3, padding=1),
            nn.BatchNorm2d(decoder_channels), nn.ReLU(inplace=True),
            nn.Conv2d(decoder_channels, 3, 3, padding=1))
        self.classifier = PoolLinear(c, num_classes_of(task))
        self.recon_weight = interpolate(recon_weight, frac)
        self.cls_weight = interpolate(cls_weight, frac)
        # Undo the data preprocessor's normalisation: the target is the
        # image in [0, 1], the scale InfoPro's weights were tuned for.
        # A plain list: the preprocessor belongs to the base model. Its
        # mean/std buffers are read at call time (on the inputs' device).
        self._preprocessor = [getattr(task.model, 'data_preprocessor', None)]

    def target(self, inputs):
        pre = self._preprocessor[0]
        image = inputs
        if getattr(pre, '_enable_normalize', False):
            image = image * pre.std.to(inputs) + pre.mean.to(inputs)
        return (image / 255.).clamp(0, 1)

    def forward(self, x, data_samples, bank):
        image = self.target(bank['inputs'])
        logits = self.decoder(F.interpolate(
            x, size=image.shape[-2:], mode='bilinear', align_corners=True))
        return dict(
            loss_recon=self.recon_weight *
            F.binary_cross_entropy_with_logits(logits, image),
            loss_cls=self.cls_weight *
            cross_entropy(self.classifier(x), data_samples))

    def extra_repr(self):
        return (f'recon_weight={self.recon_weight:.3g}, '
                f'cls_weight={self.cls_weight:.3g}')
