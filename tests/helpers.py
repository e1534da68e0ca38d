"""Shared builders for the tests."""
import torch


def cifar_classifier(depth=20, num_classes=10):
    """Config of an mmpretrain ImageClassifier on a man_mm CifarResNet."""
    import man_mm.models  # noqa: F401  (registers man_mm.CifarResNet)
    return dict(
        type='ImageClassifier',
        backbone=dict(type='man_mm.CifarResNet', depth=depth),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=64,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=num_classes))


def local_model(depth=20, **kwargs):
    from man_mm.models import LocalLearningModel
    return LocalLearningModel(model=cifar_classifier(depth), **kwargs)


def fake_batch(n=8, size=32, num_classes=10, seed=0):
    """A random batch in the format mmpretrain's data loader produces."""
    from man_mm.utils import fake_cls_batch
    return fake_cls_batch(n, (3, size, size), num_classes, seed)


def sgd_wrapper(model, lr=0.1, **kwargs):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), **kwargs)
