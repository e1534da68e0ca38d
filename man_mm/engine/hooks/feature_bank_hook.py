"""Runner-side life cycle of the MAN feature bank."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from man_mm.registry import HOOKS


@HOOKS.register_module()
class FeatureBankHook(Hook):
    """Attach, refresh, log and release the model's feature bank.

    - ``before_train``: register the bank's forward hooks on the backbone.
    - ``after_train_iter``: log the bank's size (``bank_mem``, MiB; only
      for a bank with taps: detection and SR) and drop its features, so
      they never outlive the iteration that made them (the bank is online:
      refreshed every forward, never precomputed) and do not sit in memory
      through validation and checkpointing.
    - ``before_val``/``after_train``: remove the forward hooks, so
      validation, testing and the saved model run hook-free.

    The model fills the bank itself during ``train_step``; without this hook
    it still works (it attaches lazily), but keeps the last iteration's
    features alive until the next one.
    """
    priority = 'NORMAL'

    @staticmethod
    def _bank(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        bank = getattr(model, 'feature_bank', None)
        if bank is None:
            raise TypeError(
                'FeatureBankHook needs a model with a feature bank '
                '(man_mm.LocalLearningModel); got '
                f'{type(model).__name__}. Remove the hook from custom_hooks '
                'or wrap the model.')
        return bank

    def before_train(self, runner) -> None:
        self._bank(runner).attach()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        bank = self._bank(runner)
        if bank.taps:  # classifiers' banks are empty by default
            runner.message_hub.update_scalar('train/bank_mem',
                                             bank.nbytes / 2**20)
        bank.clear()

    def before_val(self, runner) -> None:
        self._bank(runner).detach_hooks()

    def after_train(self, runner) -> None:
        self._bank(runner).detach_hooks()
