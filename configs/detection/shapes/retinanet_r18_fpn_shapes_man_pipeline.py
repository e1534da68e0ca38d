# MAN on the shapes demo with its local modules on separate processes: a
# 2-stage decoupled pipeline. Launch with a multiple of 2 processes
# (processes = stages x data-parallel replicas):
#   bash tools/dist_train.sh \
#       configs/detection/shapes/retinanet_r18_fpn_shapes_man_pipeline.py 2
# The aux nets keep heads of their own (share_head=False) so the stages run
# fully decoupled; MAN's shared head also works, but then every stage waits
# for the last one each iteration (docs/en/distributed.md).
_base_ = './retinanet_r18_fpn_shapes_man.py'
model = dict(aux=dict(type='man_mm.SLMDetAux', share_head=False))
model_wrapper_cfg = dict(type='man_mm.LocalPipelineParallel', num_stages=2)
