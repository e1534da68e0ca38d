# MAN on ResNet-32 / STL-10, K=16 (stem + 15 blocks), SLM aux, shared head.
_base_ = './resnet32_stl10_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
