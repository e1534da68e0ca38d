from .local_learning_model import LocalLearningModel, NonFiniteLocalLossError

__all__ = ['LocalLearningModel', 'NonFiniteLocalLossError']
