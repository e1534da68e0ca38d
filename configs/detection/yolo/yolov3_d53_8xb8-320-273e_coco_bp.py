# YOLOv3 on Darknet-53, COCO, BP: mmdet's own config, unchanged (the
# baseline of yolov3_d53_8xb8-320-273e_coco_man.py).
_base_ = [
    'mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py',
    '../../_base_/man_mm_imports.py',
]
