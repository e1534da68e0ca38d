# MAN on YOLOv3-R34 / VOC: one module per block (K=16 -> 13 trainable, stem
# and layer1 frozen), SLMDetAux (defaults) sharing the real neck and head.
_base_ = './yolov3_r34_160e_voc0712_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
