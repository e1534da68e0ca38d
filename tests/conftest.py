import pytest
import torch
from mmengine.registry import init_default_scope


@pytest.fixture(autouse=True)
def _mmpretrain_scope():
    # Configs run with default_scope='mmpretrain' (its default_runtime);
    # tests that build models directly need the same scope.
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    yield
