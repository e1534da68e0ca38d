# The detection demo: a small RetinaNet-R18 trained end to end (BP) from
# scratch on the SYNTHETIC shapes set made by
# tools/dataset_converters/make_shapes_coco.py (128x128 images, 3 classes),
# for a fixed iteration budget (AdamW, 1000 iterations of batch 8: the
# shapes recipe, ../../_base_/recipes/shapes_detection.py), evaluated with
# mmdet's CocoMetric.
_base_ = [
    '../../_base_/man_mm_imports.py',
    '../../_base_/models/retinanet_r18_fpn_shapes.py',
    '../../_base_/datasets/shapes_coco_detection.py',
    'mmdet::_base_/default_runtime.py',
]
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
