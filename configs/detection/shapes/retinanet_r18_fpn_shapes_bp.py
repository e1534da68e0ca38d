# The detection demo: a small RetinaNet-R18 (64-channel FPN and head) trained
# end to end from scratch on the SYNTHETIC shapes set made by
# tools/dataset_converters/make_shapes_coco.py (128x128 images, 3 classes),
# for a fixed iteration budget, evaluated with mmdet's CocoMetric.
_base_ = [
    '../../_base_/man_mm_imports.py',
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../../_base_/datasets/shapes_coco_detection.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    bbox_head=dict(
        num_classes=3, in_channels=64, feat_channels=64, stacked_convs=2))

max_iters = 300
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.02, momentum=0.9, nesterov=True, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters,
         T_max=max_iters),
]
train_cfg = dict(
    type='man_mm.LocalIterBasedTrainLoop', max_iters=max_iters,
    val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
