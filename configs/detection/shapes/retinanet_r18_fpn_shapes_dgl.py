# DGL on the shapes demo (paper Table 3 baseline): aux nets resize their own
# output into an FPN input set and own their neck/head copies; no bank.
_base_ = './retinanet_r18_fpn_shapes_man.py'
model = dict(aux=dict(type='man_mm.DGLDetAux'))
