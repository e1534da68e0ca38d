"""Task adapter for mmpretrain image classifiers."""
from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .base import TaskAdapter


@TASK_ADAPTERS.register_module()
class ClsTaskAdapter(TaskAdapter):
    """mmpretrain ``ImageClassifier``: backbone -> neck -> head."""
    head_names = ('neck', 'head')
    default_aux = 'man_mm.SLMClsAux'
    supported_names = 'mmpretrain ImageClassifier'

    @classmethod
    def supported_types(cls):
        return optional_types('mmpretrain.models', 'ImageClassifier')

    def loss(self, feats, data_samples, heads=None, bank=None):
        if heads is None:
            heads = self.head_modules()
        # No neck (ConvNeXt: its final norm pools): the head alone.
        neck, head = (None, *heads) if len(heads) == 1 else heads
        feats = feats if isinstance(feats, tuple) else (feats, )
        if neck is not None:
            feats = neck(feats)
        return head.loss(feats, data_samples)
