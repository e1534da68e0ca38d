# mmdet's YOLOv3 on the full Darknet-53 trained end to end (BP) from scratch
# on the SYNTHETIC shapes set with the shapes demo's data, AdamW and budget
# (128 px). The model is mmdet's with num_classes=3 and no pretrained
# backbone.
_base_ = [
    'mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py',
    '../../_base_/man_mm_imports.py',
    '../../_base_/recipes/shapes_detection.py',
]
model = dict(backbone=dict(init_cfg=None), bbox_head=dict(num_classes=3))

# The shapes demo's data and schedule (../../_base_/recipes/shapes_detection.py).
max_iters = {{_base_.shapes.max_iters}}
train_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset={{_base_.shapes.train_dataloader.dataset}})
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset={{_base_.shapes.val_dataloader.dataset}})
test_dataloader = val_dataloader
val_evaluator = {{_base_.shapes.val_evaluator}}
test_evaluator = val_evaluator
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer={{_base_.shapes.optimizer}},
    clip_grad={{_base_.shapes.clip_grad}})
param_scheduler = {{_base_.shapes.param_scheduler}}
train_cfg = dict(
    _delete_=True,
    type='man_mm.LocalIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = {{_base_.shapes.default_hooks}}
log_processor = dict(by_epoch=False)
custom_hooks = []
randomness = dict(seed=0)
