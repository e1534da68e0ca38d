# MAN with lean SLM blocks (a switch, off by default): every SLM block keeps
# its input and output widths but has half the inner width, so the aux nets
# carry about half the weights, gradients and AdamW state. Kept only if its
# mAP stays within the seed spread of default MAN (README, shapes table).
_base_ = './retinanet_r18_fpn_shapes_man.py'
model = dict(aux=dict(type='man_mm.SLMDetAux', width=0.5))
