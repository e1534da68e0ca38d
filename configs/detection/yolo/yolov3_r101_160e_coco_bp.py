# YOLOv3 on a ResNet-101 backbone (the paper's YOLO-R101 row), COCO, BP.
_base_ = './yolov3_r34_160e_coco_bp.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')),
    neck=dict(in_channels=[2048, 1024, 512], out_channels=[512, 256, 128]),
    bbox_head=dict(in_channels=[512, 256, 128],
                   out_channels=[1024, 512, 256]))
