"""Datasets registered in ``man_mm.registry.DATASETS``."""
from .stl10 import STL10
from .svhn import SVHN

__all__ = ['SVHN', 'STL10']
