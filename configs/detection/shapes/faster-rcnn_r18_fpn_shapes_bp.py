# mmdet's Faster R-CNN (RPN + RoI head) on the RetinaNet demo's half-width
# ResNet-18 + 64-channel FPN, trained end to end (BP) from scratch on the
# SYNTHETIC shapes set with the shapes demo's data, AdamW and budget.
_base_ = [
    '../../_base_/man_mm_imports.py',
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../../_base_/datasets/shapes_coco_detection.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        depth=18, base_channels=32, frozen_stages=-1, norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=3)))
max_iters = {{_base_.shapes.max_iters}}
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer={{_base_.shapes.optimizer}},
    clip_grad={{_base_.shapes.clip_grad}})
param_scheduler = {{_base_.shapes.param_scheduler}}
train_cfg = dict(
    type='man_mm.LocalIterBasedTrainLoop', max_iters=max_iters,
    val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = {{_base_.shapes.default_hooks}}
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
