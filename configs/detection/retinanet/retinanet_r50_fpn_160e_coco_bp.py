# RetinaNet-R50 on COCO 2017 trained end to end (BP), with the paper's
# recipe: 8 GPUs x 8 images, 160 epochs. ImageNet-pretrained backbone via
# mmdet's init_cfg (torchvision://resnet50), as in mmdet.
_base_ = [
    '../../_base_/man_mm_imports.py',
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    '../../_base_/schedules/local_det_160e.py',
    'mmdet::_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=8, num_workers=4)
