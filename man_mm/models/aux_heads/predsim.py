"""PredSim auxiliary net (Nøkland & Eidnes, 2019), a Table 1 baseline."""
import torch
import torch.nn.functional as F
from torch import nn

from man_mm.registry import MODELS
from ._cls_common import (PoolLinear, cross_entropy, gt_labels,
                          in_channels_of, num_classes_of)


def similarity_matrix(x: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between the samples of a batch."""
    x = x.flatten(1)
    x = x - x.mean(dim=1, keepdim=True)
    x = x / (x.norm(dim=1, keepdim=True) + 1e-8)
    return x @ x.t()


@MODELS.register_module()
class PredSimClsAux(nn.Module):
    """Prediction + similarity-matching local loss.

    ``(1 - beta) * CE(pool-linear(x)) + beta * MSE(S(conv(x)), S(onehot))``
    with ``S`` the batch cosine-similarity matrix.

    Args:
        task, units, last_unit: As for every aux net.
        beta (float): Weight of the similarity term. Defaults to 0.99.
    """

    def __init__(self, task, units, last_unit, beta: float = 0.99):
        super().__init__()
        c = in_channels_of(units, last_unit)
        self.num_classes = num_classes_of(task)
        self.sim_conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.classifier = PoolLinear(c, self.num_classes)
        self.beta = beta

    def forward(self, x, data_samples, bank):
        labels = gt_labels(data_samples).to(x.device)
        onehot = F.one_hot(labels, self.num_classes).float()
        sim = F.mse_loss(
            similarity_matrix(self.sim_conv(x)), similarity_matrix(onehot))
        pred = cross_entropy(self.classifier(x), data_samples)
        return dict(
            loss_sim=self.beta * sim, loss_pred=(1 - self.beta) * pred)
