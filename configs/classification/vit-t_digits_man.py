# MAN on the tiny ViT of vit-t_digits_bp.py: one local module per encoder
# layer (6; the patch embedding joins the first), SLM aux nets (one fresh
# encoder layer and a fresh final norm) sharing the real head.
_base_ = './vit-t_digits_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
