# MAN on RetinaNet-R34 / VOC: one module per block, SLMDetAux (defaults).
_base_ = './retinanet_r34_fpn_160e_voc0712_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
