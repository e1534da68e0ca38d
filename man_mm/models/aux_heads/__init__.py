from .auglocal import AugLocalClsAux
from .dgl import DGLClsAux, DGLDetAux
from .infopro import InfoProClsAux
from .predsim import PredSimClsAux
from .slm import SLMClsAux, SLMDetAux
from .slm_sr import SLMSRAux
from .task_head import TaskHead

__all__ = [
    'SLMClsAux', 'TaskHead', 'DGLClsAux', 'InfoProClsAux', 'PredSimClsAux',
    'AugLocalClsAux', 'SLMDetAux', 'DGLDetAux', 'SLMSRAux'
]
