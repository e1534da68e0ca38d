# RetinaNet-R50 on Pascal VOC (07+12 trainval -> 07 test), BP, paper recipe.
_base_ = [
    '../../_base_/man_mm_imports.py',
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/voc0712.py',
    '../../_base_/schedules/local_det_160e.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(bbox_head=dict(num_classes=20))
# mmdet's VOC base repeats the trainval set 3x per "epoch"; the paper counts
# plain epochs, so do we.
train_dataloader = dict(batch_size=8, num_workers=4, dataset=dict(times=1))
