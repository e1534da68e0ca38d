"""Helpers for tests of local learning (man_mm's and a user's own): fake
batches in the OpenMMLab data-loader formats and gradient-isolation
assertions."""
from .asserts import assert_gradient_isolated
from .batches import fake_cls_batch, fake_liif_batch, fake_sr_batch

__all__ = ['assert_gradient_isolated', 'fake_cls_batch', 'fake_liif_batch',
           'fake_sr_batch']
