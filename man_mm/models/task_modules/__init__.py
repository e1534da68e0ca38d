"""Runtime pieces the aux nets read: the MAN feature bank."""
from .feature_bank import FeatureBank

__all__ = ['FeatureBank']
