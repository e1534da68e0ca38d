# MAN on MobileNetV2 (width 0.5), digits: one local module per inverted
# residual block (17; the stem joins the first, the final 1x1 conv the
# last), SLM aux nets (each later stage's first block and a fresh final
# conv) sharing the real head.
_base_ = './mobilenet-v2-w05_digits_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
