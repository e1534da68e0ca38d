"""Shared builders for the tests."""
import importlib.util
import os.path as osp

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path):
    """Import a script under ``tools/`` (not a package) as a module."""
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    from man_mm.testing import fake_cls_batch
    return fake_cls_batch(n, (3, size, size), num_classes, seed)


def sgd_wrapper(model, lr=0.1, **kwargs):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), **kwargs)
