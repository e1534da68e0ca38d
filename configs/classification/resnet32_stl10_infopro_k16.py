# Table 1 baseline on the MAN config of this data set: InfoPro (Wang et al., 2021): reconstruction + classification, depth-weighted.
_base_ = './resnet32_stl10_man_k16.py'
model = dict(aux=dict(type='man_mm.InfoProClsAux'))
