"""InfoPro auxiliary net (Wang et al., 2021), a Table 1 baseline."""
import torch.nn.functional as F
from torch import nn

from man_mm.registry import MODELS
from ._cls_common import (PoolLinear, cross_entropy, in_channels_of,
                          num_classes_of)


@MODELS.register_module()
class InfoProClsAux(nn.Module):
    """Information-propagation loss: reconstruct the input, classify.

    A decoder reconstructs the (normalised) input image from the module's
    features -- keeping task-irrelevant information, InfoPro's remedy for
    greedy collapse -- and a pooled linear head predicts the label. The
    local loss is ``recon_weight * MSE + cls_weight * CE``. The input is
    read from the feature bank (key ``'inputs'``), which the model fills at
    the start of every iteration.

    Args:
        task, units, last_unit: As for every aux net.
        decoder_channels (int): Width of the decoder. Defaults to 12.
        recon_weight (float): Weight of the reconstruction term.
        cls_weight (float): Weight of the classification term.
    """

    #: Ask the model to put the preprocessed batch in the bank as 'inputs'.
    needs_inputs = True

    def __init__(self, task, units, last_unit, decoder_channels: int = 12,
                 recon_weight: float = 1.0, cls_weight: float = 1.0):
        super().__init__()
        c = in_channels_of(units, last_unit)
        self.decoder_in = nn.Sequential(
            nn.Conv2d(c, decoder_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(decoder_channels), nn.ReLU(inplace=True))
        self.decoder_out = nn.Conv2d(decoder_channels, 3, 3, padding=1)
        self.classifier = PoolLinear(c, num_classes_of(task))
        self.recon_weight, self.cls_weight = recon_weight, cls_weight

    def forward(self, x, data_samples, bank):
        image = bank['inputs']
        recon = F.interpolate(
            self.decoder_in(x), size=image.shape[-2:], mode='bilinear',
            align_corners=False)
        recon = self.decoder_out(recon)
        return dict(
            loss_recon=self.recon_weight * F.mse_loss(recon, image),
            loss_cls=self.cls_weight *
            cross_entropy(self.classifier(x), data_samples))
