# MAN on the RDN demo: one local module per residual dense block (K=4); the
# global feature fusion of each aux net reads the earlier blocks' outputs
# from the feature bank, its module's own live, and one fresh block (the
# SLM) in the later slots, then the global skip from the bank's shallow
# feature and the shared upsampler.
_base_ = './rdn_x2c32b4_photos_bp.py'
work_dir = './work_dirs/rdn_x2c32b4_photos_man'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
