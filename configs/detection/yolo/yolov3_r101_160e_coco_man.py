# MAN on YOLOv3-R101 / COCO: one module per block (the paper's K=33).
_base_ = './yolov3_r101_160e_coco_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
