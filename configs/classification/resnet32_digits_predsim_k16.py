# Table 1 baseline on the MAN config of this data set: PredSim (Nokland & Eidnes, 2019): prediction + similarity matching.
_base_ = './resnet32_digits_man_k16.py'
model = dict(aux=dict(type='man_mm.PredSimClsAux'))
