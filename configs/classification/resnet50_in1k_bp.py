# ResNet-50, ImageNet-1k, BP: mmpretrain's own config, unchanged (the
# baseline of resnet50_in1k_man_k16.py).
_base_ = [
    'mmpretrain::resnet/resnet50_8xb32_in1k.py',
    '../_base_/man_mm_imports.py',
]
