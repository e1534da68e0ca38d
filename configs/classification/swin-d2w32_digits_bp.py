# A small Swin Transformer (2 blocks per stage, widths 32..256, 2x2 patches,
# 4x4 windows) trained end to end on the embedded digits: the BP twin of
# swin-d2w32_digits_man.py. The ViT digits recipe (AdamW lr 1e-3, 1-epoch
# warm-up, cosine, 20 epochs), as Swins are trained with AdamW.
_base_ = './vit-t_digits_bp.py'
model = dict(
    _delete_=True,
    type='ImageClassifier',
    # Stages at 16, 8, 4 and 2 px; the last is padded up to its window
    # (pad_small_map) rather than shrinking the window.
    backbone=dict(
        type='SwinTransformer',
        arch=dict(embed_dims=32, depths=[2, 2, 2, 2],
                  num_heads=[1, 2, 4, 8]),
        img_size=32,
        patch_size=2,
        window_size=4,
        pad_small_map=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
