# Table 1 baseline on the MAN config of this data set: AugLocal (Ma et al., 2024): sampled later layers, depth pyramid.
_base_ = './resnet32_digits_man_k16.py'
model = dict(aux=dict(type='man_mm.AugLocalClsAux'))
