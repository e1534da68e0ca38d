# Table 1 baseline on the MAN config of this data set: AugLocal (Ma et al., 2024): sampled later layers, depth pyramid.
_base_ = './resnet32_cifar10_man_k16.py'
# AugLocal's "K=16" trains 16 - depth modules (its train.py): the last one
# absorbs the aux depth's worth of blocks, so 13 aux nets at depth 2.
model = dict(
    aux=dict(type='man_mm.AugLocalClsAux', depth=2),
    split_points=list(range(1, 14)))
