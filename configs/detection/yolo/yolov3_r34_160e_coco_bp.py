# YOLOv3 on a ResNet-34 backbone (the paper's YOLO-R34 row; the paper used a
# ResNet YOLOv1, mmdet ships YOLOv3), COCO 2017, BP. mmdet's YOLOv3 config
# with the backbone swapped and the paper's schedule: 8 GPUs x 4 images.
_base_ = [
    'mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py',
    '../../_base_/man_mm_imports.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=34,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet34')),
    neck=dict(in_channels=[512, 256, 128], out_channels=[256, 128, 64]),
    bbox_head=dict(in_channels=[256, 128, 64],
                   out_channels=[512, 256, 128]))
train_dataloader = dict(batch_size=4, num_workers=4)
# Paper appendix A.3 schedule (total batch 32 for YOLO): SGD Nesterov,
# warm-up then cosine, 160 epochs. mmdet's YOLOv3 schedule is replaced.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.0005, momentum=0.9, nesterov=True,
                   weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=2000),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=160,
         T_max=160, convert_to_iter_based=True),
]
train_cfg = dict(type='man_mm.LocalEpochBasedTrainLoop', max_epochs=160,
                 val_interval=10)
auto_scale_lr = dict(base_batch_size=32)
