# MAN on RetinaNet-R34 / COCO: the paper's K=16 split (one module per block;
# stem+layer1 stay frozen as in mmdet, so 13 modules train locally).
_base_ = './retinanet_r34_fpn_160e_coco_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})  # one module per unit, SLMDetAux (the defaults)
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
