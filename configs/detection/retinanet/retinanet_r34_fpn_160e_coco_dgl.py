# DGL on RetinaNet-R34 / COCO (paper Table 3): aux nets build an FPN by
# resizing their own output, own neck/head copies, no feature bank.
_base_ = './retinanet_r34_fpn_160e_coco_man.py'
model = dict(aux=dict(type='man_mm.DGLDetAux'))
