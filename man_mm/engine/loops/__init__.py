from .local_train_loop import LocalEpochBasedTrainLoop, LocalIterBasedTrainLoop

__all__ = ['LocalEpochBasedTrainLoop', 'LocalIterBasedTrainLoop']
