# Plain local learning on the SR demo (paper Table 4's "Adapt" off): no SLM
# block, no feature bank, so no global skip in the aux nets (paper §5.3's
# "catastrophic gap").
_base_ = './edsr_x2c32b8_photos_man.py'
work_dir = './work_dirs/edsr_x2c32b8_photos_man_noadapt'
model = dict(aux=dict(type='man_mm.SLMSRAux', adapt=False))
