# The demo with MAN: the same ResNet-32 / digits run as
# resnet32_digits_bp.py, cut into K=16 local modules trained by SLM aux nets.
_base_ = './resnet32_digits_bp.py'

model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})  # defaults: one module per unit (K=16 here),
#                                SLM aux sharing the real head (paper's best)

custom_hooks = [dict(type='man_mm.FeatureBankHook')]
