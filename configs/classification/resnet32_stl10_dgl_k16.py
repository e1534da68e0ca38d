# Table 1 baseline on the MAN config of this data set: DGL (Belilovsky et al., 2020): 1x1 convs + MLP aux.
_base_ = './resnet32_stl10_man_k16.py'
model = dict(aux=dict(type='man_mm.DGLClsAux'))
