# A small ConvNeXt (2 blocks per stage, widths 32..256, 2x2 stem) trained
# end to end on the embedded digits: the BP twin of
# convnext-d2w32_digits_man.py. The ViT digits recipe (AdamW lr 1e-3,
# 1-epoch warm-up, cosine, 20 epochs), as ConvNeXts are trained with AdamW.
_base_ = './vit-t_digits_bp.py'
model = dict(
    _delete_=True,
    type='ImageClassifier',
    # The 2x2 stem keeps the 32 px digits at 16, 8, 4 and 2 px per stage.
    # ConvNeXt's final norm pools globally itself: no neck, as mmpretrain's
    # ConvNeXt configs.
    backbone=dict(
        type='ConvNeXt',
        arch=dict(depths=[2, 2, 2, 2], channels=[32, 64, 128, 256]),
        stem_patch_size=2),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
