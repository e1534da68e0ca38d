# Swin-T, ImageNet-1k, BP: mmpretrain's own config, unchanged (the baseline
# of swin-tiny_16xb64_in1k_man.py).
_base_ = [
    'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
    '../_base_/man_mm_imports.py',
]
