# MAN on RetinaNet-R50 / COCO: K=16 local modules (stem+layer1 are frozen by
# mmdet's frozen_stages=1, so 13 train locally), SLM aux nets with a feature
# bank of stage outputs, sharing the real FPN and RetinaHead.
_base_ = './retinanet_r50_fpn_160e_coco_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})  # one module per unit, SLMDetAux (the defaults)
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
