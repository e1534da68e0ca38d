"""InfoPro auxiliary net (Wang et al., 2021), a Table 1 baseline.

References (read side by side), for ResNet-32 K=16 on CIFAR-10:

* InfoPro-Pytorch, ``Experiments on CIFAR-SVHN-STL10/``:
  ``networks/auxiliary_nets.py`` (decoder l. 7-36, the ``1c2f`` classifier
  l. 121-154, the contrastive branch l. 241-249), ``networks/losses.py``
  (``SupConLoss`` l. 11-99), ``networks/resnet.py`` (image restore
  l. 149-166, the depth-weighted loss l. 213-218), ``comand.sh`` (K=16:
  ``--local_loss_mode contrast --aux_net_config 1c2f --ixx_1 5 --ixy_1 0.05
  --ixx_2 0.2 --ixy_2 0.5``).
* AugLocal, whose commands the MAN paper's Table 1 follows, re-implements
  it with the same head, decoder and weights but cross-entropy on the
  logits (``networks/auxiliary_nets.py`` l. 178-211, 270-314; ``run.sh``).

The default is AugLocal's cross-entropy (the setting of the paper's
Table 1); ``cls_loss='contrast'`` is InfoPro's own supervised contrastive
loss.
"""
import torch
import torch.nn.functional as F
from torch import nn

from man_mm.registry import MODELS
from .common import (cross_entropy, depth_fraction, gt_labels,
                          he_init_convs, in_channels_of, interpolate,
                          num_classes_of)


def supcon_loss(features: torch.Tensor, labels: torch.Tensor,
                temperature: float = 0.07) -> torch.Tensor:
    """Supervised contrastive loss, one view per sample (InfoPro's
    ``SupConLoss`` with ``contrast_mode='all'`` and
    ``base_temperature=temperature``).

    Args:
        features (Tensor): (B, D) L2-normalised embeddings.
        labels (Tensor): (B,) class indices.
        temperature (float): Softmax temperature. Defaults to 0.07.

    Returns:
        Tensor: The mean over anchors of minus the mean log-probability of
        their positives (same label, not themselves).
    """
    logits = features @ features.t() / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    n = features.size(0)
    not_self = ~torch.eye(n, dtype=torch.bool, device=features.device)
    positive = (labels[:, None] == labels[None, :]) & not_self
    exp = torch.exp(logits) * not_self
    log_prob = logits - torch.log(exp.sum(dim=1, keepdim=True))
    count = positive.sum(dim=1).clamp(min=1)
    return -((positive * log_prob).sum(dim=1) / count).mean()


class InfoProHead(nn.Sequential):
    """InfoPro's ``1c2f`` aux classifier: one conv, two FC layers.

    ``conv3x3 (stride 2 and doubled width for widths 16 and 32, stride 1 at
    64) - BN - ReLU - global pool - FC(hidden) - ReLU - FC(out)``.

    Args:
        in_channels (int): Width of the module's output (16, 32 or 64 in
            ResNet-32; wider inputs keep their width, stride 1).
        out_features (int): Classes (cross-entropy) or the embedding size
            (contrastive, 128).
        hidden (int): Width of the first FC layer. Defaults to 128.
    """

    def __init__(self, in_channels: int, out_features: int,
                 hidden: int = 128):
        if in_channels < 64:
            conv_out, stride = 2 * in_channels, 2
        else:
            conv_out, stride = in_channels, 1
        super().__init__(
            nn.Conv2d(in_channels, conv_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(conv_out), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(conv_out, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, out_features))


@MODELS.register_module()
class InfoProClsAux(nn.Module):
    """Information-propagation loss: reconstruct the input, classify.

    A decoder reconstructs the input image (in ``[0, 1]``, as InfoPro's
    ``_image_restore`` does; binary cross-entropy on a sigmoid output)
    from the module's features upsampled to the image size -- keeping
    task-irrelevant information, InfoPro's remedy for greedy collapse --
    and the ``1c2f`` head (:class:`InfoProHead`) classifies. The local loss
    is ``recon_weight * BCE + cls_weight * L_cls``. The input is read from
    the feature bank (key ``'inputs'``), which the model fills at the start
    of every iteration.

    The weights change linearly with depth, as in InfoPro's code
    (``ixx_r = ixx_1 (1 - r) + ixx_2 r``, ``r = i / (K - 2)``); the
    defaults are the ResNet-32 K=16 CIFAR-10 command of both references.

    Args:
        task, units, last_unit: As for every aux net.
        decoder_channels (int): Width of the decoder. Defaults to 12.
        recon_weight (float | tuple[float, float]): Weight of the
            reconstruction term, or (first module, last aux) to interpolate.
            Defaults to (5.0, 0.2).
        cls_weight (float | tuple[float, float]): Weight of the
            classification term, likewise. Defaults to (0.05, 0.5).
        cls_loss (str): ``'ce'`` (cross-entropy on the class logits, as
            AugLocal; default) or ``'contrast'`` (InfoPro's supervised
            contrastive loss on the L2-normalised ``feature_dim`` output).
        feature_dim (int): Hidden width of the head, and its output size
            for ``'contrast'``. Defaults to 128.
        temperature (float): Temperature of the contrastive loss.
            Defaults to 0.07.
    """

    #: Ask the model to put the preprocessed batch in the bank as 'inputs'.
    needs_inputs = True

    def __init__(self, task, units, last_unit, decoder_channels: int = 12,
                 recon_weight=(5.0, 0.2), cls_weight=(0.05, 0.5),
                 cls_loss: str = 'ce', feature_dim: int = 128,
                 temperature: float = 0.07):
        super().__init__()
        if cls_loss not in ('ce', 'contrast'):
            raise ValueError(f"cls_loss={cls_loss!r}: use 'ce' "
                             "(AugLocal's) or 'contrast' (InfoPro's).")
        frac = depth_fraction(units, last_unit)
        c = in_channels_of(units, last_unit)
        # InfoPro's decoder, on features upsampled to the image size; its
        # sigmoid is folded into the loss (BCE with logits, same value).
        self.decoder = nn.Sequential(
            nn.Conv2d(c, decoder_channels, 3, padding=1),
            nn.BatchNorm2d(decoder_channels), nn.ReLU(inplace=True),
            nn.Conv2d(decoder_channels, 3, 3, padding=1))
        self.cls_loss = cls_loss
        self.temperature = temperature
        self.head = InfoProHead(
            c, num_classes_of(task) if cls_loss == 'ce' else feature_dim,
            feature_dim)
        self.recon_weight = interpolate(recon_weight, frac)
        self.cls_weight = interpolate(cls_weight, frac)
        he_init_convs(self)
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
        out = self.head(x)
        if self.cls_loss == 'ce':
            cls = cross_entropy(out, data_samples)
        else:
            cls = supcon_loss(F.normalize(out, dim=1),
                              gt_labels(data_samples).to(out.device),
                              self.temperature)
        return dict(
            loss_recon=self.recon_weight *
            F.binary_cross_entropy_with_logits(logits, image),
            loss_cls=self.cls_weight * cls)

    def extra_repr(self):
        return (f'recon_weight={self.recon_weight:.3g}, '
                f'cls_weight={self.cls_weight:.3g}, '
                f'cls_loss={self.cls_loss!r}')
