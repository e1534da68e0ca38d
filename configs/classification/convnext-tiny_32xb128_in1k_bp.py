# ConvNeXt-T, ImageNet-1k, BP: mmpretrain's own config, unchanged (the
# baseline of convnext-tiny_32xb128_in1k_man.py).
_base_ = [
    'mmpretrain::convnext/convnext-tiny_32xb128_in1k.py',
    '../_base_/man_mm_imports.py',
]
