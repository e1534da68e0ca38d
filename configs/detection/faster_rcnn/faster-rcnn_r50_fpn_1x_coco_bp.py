# Faster R-CNN R50-FPN, COCO, BP: mmdet's own config, unchanged (the
# baseline of faster-rcnn_r50_fpn_1x_coco_man.py).
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    '../../_base_/man_mm_imports.py',
]
