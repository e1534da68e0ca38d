# MAN without SLM and feature bank (paper Table 4, Adapt off): each aux feeds
# its module output, resized to every level, to the shared FPN and head.
_base_ = './retinanet_r18_fpn_shapes_man.py'
model = dict(aux=dict(type='man_mm.SLMDetAux', adapt=False))
