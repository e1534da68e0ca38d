# A tiny Vision Transformer (6 layers, width 128, 4x4 patches) trained end
# to end on the embedded digits: the BP twin of vit-t_digits_man.py.
# AdamW, as ViTs are trained, 20 epochs with a 1-epoch warm-up, then cosine.
_base_ = [
    '../_base_/man_mm_imports.py',
    '../_base_/datasets/digits_bs64.py',
    '../_base_/schedules/local_cls_400e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=128, num_layers=6, num_heads=4,
                  feedforward_channels=256),
        img_size=32,
        patch_size=4),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
max_epochs = 20
lr = 1e-3
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=lr, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
