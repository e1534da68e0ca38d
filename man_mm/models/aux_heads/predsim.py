"""PredSim auxiliary net (Nøkland & Eidnes, 2019), a Table 1 baseline.

References (read side by side):

* local-loss (the authors' code), ``train.py``: ``similarity_matrix``
  (l. 1409-1420), ``LocalLossBlockConv`` (prediction head l. 682-706,
  loss l. 845-858), per-layer Adam at lr 5e-4 (l. 35, 724-727).
* AugLocal (whose ResNet-32 K=16 commands the MAN paper's Table 1
  follows), ``networks/losses.py`` (``similarity_matrix`` l. 90-102,
  ``SimLoss`` l. 78-87), ``networks/auxiliary_nets.py`` (prediction head
  l. 91-98, ``Decoder_PredSim`` l. 328-337), ``utils/others.py``
  (``get_pool_layer`` l. 4-22), ``run.sh`` (``--ixx 0.99 --ixy 0.01``).

The defaults are AugLocal's (the setting of the paper's Table 1): pooled
prediction features <= 512, the Linear layer's default initialisation and
the project's SGD recipe. ``pred_features=4096, zero_init_pred=True`` and an
Adam optimiser at 5e-4 (``resnet32_cifar10_predsim_adam_k16.py``) are
local-loss's.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from man_mm.registry import MODELS
from .common import (cross_entropy, gt_labels, he_init_convs,
                          in_channels_of, num_classes_of)


def similarity_matrix(x: torch.Tensor) -> torch.Tensor:
    """PredSim's batch similarity matrix (both references' formula).

    A feature map (B, C, H, W) with C > 3 and H > 1 is reduced to the
    per-channel (unbiased) standard deviation over H x W, a B x C matrix;
    anything else is flattened. Each row is centred and normalised, and
    the cosine similarities are clamped to [-1, 1].

    Args:
        x (Tensor): (B, C, H, W) features or (B, D) vectors.

    Returns:
        Tensor: (B, B) similarities.
    """
    if x.dim() == 4 and x.size(1) > 3 and x.size(2) > 1:
        x = x.flatten(2).std(dim=2)
    else:
        x = x.flatten(1)
    xc = x - x.mean(dim=1, keepdim=True)
    xn = xc / (1e-8 + xc.pow(2).sum(dim=1, keepdim=True).sqrt())
    return (xn @ xn.t()).clamp(-1, 1)


def pooled_size(channels: int, size: int,
                max_features: int) -> Tuple[int, int]:
    """The references' ``get_pool_layer``: average-pool a (C, size, size)
    map, doubling the kernel's height and width in turn, until at most
    ``max_features`` values remain.

    Returns:
        tuple: The (height, width) after pooling.
    """
    kh = kw = 1
    while channels * (size // kh) * (size // kw) > max_features:
        if kh <= kw:  # height first, then width, as the references do
            kh *= 2
        else:
            kw *= 2
    return max(1, size // kh), max(1, size // kw)


@MODELS.register_module()
class PredSimClsAux(nn.Module):
    """Prediction + similarity-matching local loss.

    ``beta * MSE(S(conv3x3(x)), S(onehot(y))) + (1 - beta) * CE(W pool(x))``
    with ``S`` :func:`similarity_matrix`; ``beta=0.99`` in both references.

    Args:
        task, units, last_unit: As for every aux net.
        beta (float): Weight of the similarity term. Defaults to 0.99.
        pred_features (int): At most this many pooled features feed the
            prediction layer: 512 in AugLocal (default), 4096 in
            local-loss.
        zero_init_pred (bool): Zero the prediction layer's weight, as
            local-loss does. Defaults to False (AugLocal).
        input_size (int): Side of the network's input, to size the
            pooling (AugLocal computes it from the image size and the
            stage's width). Defaults to 32 (CIFAR, SVHN, the digits); the
            pooling adapts to other sizes at run time.
    """

    def __init__(self, task, units, last_unit, beta: float = 0.99,
                 pred_features: int = 512, zero_init_pred: bool = False,
                 input_size: int = 32):
        super().__init__()
        c = in_channels_of(units, last_unit)
        self.num_classes = num_classes_of(task)
        self.sim_conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        # AugLocal: the map side is image_size // (C // 16) for ResNet-32
        # (32, 16, 8 for widths 16, 32, 64; 16 is the first stage's width).
        side = max(1, input_size // max(1, c // units.stage_out_channels(0)))
        self._pool_out = pooled_size(c, side, pred_features)
        self.pred = nn.Linear(c * self._pool_out[0] * self._pool_out[1],
                              self.num_classes)
        self.beta = beta
        he_init_convs(self)
        if zero_init_pred:
            nn.init.zeros_(self.pred.weight)

    def forward(self, x, data_samples, bank):
        labels = gt_labels(data_samples).to(x.device)
        onehot = F.one_hot(labels, self.num_classes).float()
        sim = F.mse_loss(
            similarity_matrix(self.sim_conv(x)),
            similarity_matrix(onehot).detach())
        # Adaptive pooling to the planned output reproduces the fixed
        # kernel at the planned input size and stays valid at others.
        pooled = F.adaptive_avg_pool2d(x, self._pool_out).flatten(1)
        pred = cross_entropy(self.pred(pooled), data_samples)
        return dict(
            loss_sim=self.beta * sim, loss_pred=(1 - self.beta) * pred)

    def extra_repr(self):
        return f'beta={self.beta}, pool_out={self._pool_out}'

