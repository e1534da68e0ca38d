"""The last local module's 'auxiliary' net: the base model's real head."""
from torch import nn

from man_mm.registry import MODELS


@MODELS.register_module()
class TaskHead(nn.Module):
    """Run the base model's own neck/head and task loss.

    It owns no parameters: the head modules belong to the base model, so the
    checkpoint keeps the base model's layout.

    Args:
        task (TaskAdapter): Adapter of the base model.
    """

    def __init__(self, task, **kwargs):
        super().__init__()
        self._task = task  # plain attribute: do not re-register base modules

    def forward(self, x, data_samples, bank):
        return self._task.loss(x, data_samples, bank=bank)
