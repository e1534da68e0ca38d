# MAN on ResNet-32 / CIFAR-10, K=16 local modules (stem + 15 blocks), paper
# Table 1. Every non-final module is trained by an SLM aux net (one fresh
# block for the rest of its stage, one per later stage) that shares the real
# classification head.
_base_ = './resnet32_cifar10_bp.py'

model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})  # defaults: one module per unit (K=16 here),
#                                SLM aux sharing the real head (paper's best)

custom_hooks = [dict(type='man_mm.FeatureBankHook')]
