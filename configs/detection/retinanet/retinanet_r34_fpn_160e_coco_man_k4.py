# MAN on RetinaNet-R34 / COCO with K=4 (paper Table 3).
_base_ = './retinanet_r34_fpn_160e_coco_man.py'
model = dict(num_modules=4)
