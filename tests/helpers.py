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
    from man_mm.utils import fake_cls_batch
    return fake_cls_batch(n, (3, size, size), num_classes, seed)


def sgd_wrapper(model, lr=0.1, **kwargs):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), **kwargs)


def assert_gradient_isolated(model, batch, shared_head=None):
    """Run each local module's loss alone (after the frozen units, if any);
    assert it reaches exactly its own units and aux, every one of their
    trainable parameters gets a gradient, and nothing else does.

    Args:
        model (LocalLearningModel): The model to check.
        batch (dict): A batch as the data loader gives it.
        shared_head (bool, optional): How the base model's head modules
            (``model.task.head_modules()``, e.g. a detector's neck and
            head) are checked. None: not at all. True: every module's loss
            reaches them. False: only the last module's does (every other
            module has its own copy).

    Returns:
        dict: ``id(param) -> gradient`` of every module's own units.
    """
    own_grads = {}
    head = {id(p) for h in model.task.head_modules() for p in h.parameters()}
    last = model.local_modules[-1].index
    model.train()
    data = model.data_preprocessor(batch, True)
    inputs, samples = data['inputs'], data['data_samples']
    with model._recording_bank(inputs) as bank:
        x = model._frozen_forward(inputs)
        for lm in model.local_modules:
            model.zero_grad(set_to_none=True)
            h, losses = lm(x.detach(), samples, bank)
            model.parse_losses(losses)[0].backward()
            own = {id(p) for p in lm.body.parameters()} | \
                {id(p) for p in lm.aux.parameters()}
            reaches_head = shared_head or lm.index == last
            for name, p in model.named_parameters():
                if not p.requires_grad:
                    assert p.grad is None, f'frozen {name} got a gradient'
                elif id(p) in head:
                    if shared_head is None:
                        continue
                    if reaches_head:
                        assert p.grad is not None, \
                            f'shared {name} got no gradient from module ' \
                            f'{lm.index}'
                    else:
                        assert p.grad is None, \
                            f'loss of module {lm.index} leaked into {name}'
                elif id(p) in own:
                    assert p.grad is not None and p.grad.abs().sum() > 0, \
                        f'{name} of module {lm.index} got no gradient'
                else:
                    assert p.grad is None, \
                        f'loss of module {lm.index} leaked into {name}'
            own_grads.update({id(p): p.grad.clone()
                              for p in lm.body.parameters()})
            x = h.detach()
    return own_grads
