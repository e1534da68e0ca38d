import pytest
import torch
from mmengine.registry import init_default_scope


@pytest.fixture(autouse=True)
def _fresh_message_hub(request):
    # A Runner built by an earlier test leaves its MessageHub current (with
    # its 'iter'); every test starts from a fresh one, as a new run would.
    from mmengine.logging import MessageHub
    MessageHub.get_instance(f'test:{request.node.nodeid}')
    yield


@pytest.fixture(autouse=True)
def _mmpretrain_scope():
    # Configs run with default_scope='mmpretrain' (its default_runtime);
    # tests that build models directly need the same scope.
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    yield


@pytest.fixture
def mmagic_scope():
    """mmagic's registries and scope, for modules that build mmagic models
    directly (``pytestmark = pytest.mark.usefixtures('mmagic_scope')``);
    it runs after the autouse mmpretrain scope above."""
    import mmagic.models  # noqa: F401  (registers its models)
    init_default_scope('mmagic')
    yield
