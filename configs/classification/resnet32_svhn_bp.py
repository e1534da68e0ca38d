# ResNet-32 on SVHN (train split -> test split) trained end to end (BP),
# paper Table 1 recipe: batch 1024, lr 0.8, 400 epochs cosine.
_base_ = [
    '../_base_/man_mm_imports.py',
    '../_base_/models/cifar_resnet32.py',
    '../_base_/datasets/svhn_bs1024.py',
    '../_base_/schedules/local_cls_400e.py',
    'mmpretrain::_base_/default_runtime.py',
]
