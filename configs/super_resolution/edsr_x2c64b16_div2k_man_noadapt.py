# Plain local learning on EDSR-baseline x2 (paper Table 4's "Adapt" off):
# no SLM block and no feature bank, so the aux nets reconstruct without the
# global skip -- the "catastrophic gap" of paper §5.3.
_base_ = './edsr_x2c64b16_div2k_man.py'
work_dir = './work_dirs/edsr_x2c64b16_div2k_man_noadapt'
model = dict(aux=dict(type='man_mm.SLMSRAux', adapt=False))
