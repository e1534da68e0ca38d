"""Detectors that subclass a supported mmdet base class but cannot train
locally are refused by name, with the reason: by ``build_task_adapter``
(so by ``LocalLearningModel``) and by the adapters' ``supported_types``,
which ``tools/analysis_tools/zoo_coverage.py`` matches against."""
import os.path as osp

import pytest
from mmengine.registry import init_default_scope

import man_mm.models  # noqa: F401  (registers the adapters)
from man_mm.models import LocalLearningModel
from man_mm.models.task_adapters import (DetTaskAdapter, DETRTaskAdapter,
                                         GLIPTaskAdapter,
                                         GroundingDINOTaskAdapter,
                                         TwoStageTaskAdapter,
                                         build_task_adapter)

REFUSED = {
    # class name -> (adapter that would otherwise accept it, reason)
    'MaskFormer': (DetTaskAdapter, "pixel decoder's multi-scale outputs"),
    'Mask2Former': (DetTaskAdapter, "pixel decoder's multi-scale outputs"),
}


@pytest.fixture(autouse=True)
def _mmdet_scope():
    init_default_scope('mmdet')
    yield


def _cls(name):
    from mmdet.models import detectors
    return getattr(detectors, name)


@pytest.mark.parametrize('name', list(REFUSED))
def test_refused_by_name_with_the_reason(name):
    cls = _cls(name)
    adapter, why = REFUSED[name]
    # Still a subclass of what the adapter is written for ...
    base = 'DetectionTransformer' if adapter is DETRTaskAdapter else \
        'SingleStageDetector'
    assert issubclass(cls, _cls(base))
    # ... but neither the adapter's types (the coverage tool's check) nor
    # any other adapter accept it.
    assert not issubclass(cls, adapter.supported_types())
    assert not isinstance(cls.__new__(cls), adapter.supported_types())
    assert why in adapter.refusal(cls)
    # A built model (its class is what counts: an unbuilt instance stands
    # in).
    with pytest.raises(TypeError, match=f'cannot train {name} locally') as e:
        build_task_adapter(cls.__new__(cls))
    assert why in str(e.value)


def test_supported_siblings_are_still_accepted():
    for name, adapter in [('RetinaNet', DetTaskAdapter),
                          ('SingleStageDetector', DetTaskAdapter),
                          ('DETR', DETRTaskAdapter),
                          ('DINO', DETRTaskAdapter),
                          ('DDQDETR', DETRTaskAdapter),
                          ('FasterRCNN', TwoStageTaskAdapter)]:
        assert issubclass(_cls(name), adapter.supported_types()), name
        assert adapter.refusal(_cls(name)) is None
    assert TwoStageTaskAdapter.refusal(_cls('GLIP')) is None


@pytest.mark.parametrize('name, adapter, base', [
    ('GroundingDINO', GroundingDINOTaskAdapter, DETRTaskAdapter),
    ('GLIP', GLIPTaskAdapter, DetTaskAdapter)])
def test_language_conditioned_detectors_have_their_own_adapter(
        name, adapter, base):
    """Once refused; now trained by ``task_adapters/grounding.py`` (see
    ``test_grounding.py``): the adapter of their base class leaves them to
    it, without calling them refused."""
    cls = _cls(name)
    assert issubclass(cls, adapter.supported_types())
    assert not issubclass(cls, base.supported_types())
    assert adapter.refusal(cls) is None and base.refusal(cls) is None
    assert type(build_task_adapter(cls.__new__(cls))) is adapter


def test_local_learning_model_on_mask2former_names_the_reason():
    """mmdet's shipped Mask2Former R50 config, built offline."""
    import mmdet
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__), '.mim/configs/mask2former',
        'mask2former_r50_8xb2-lsj-50e_coco-panoptic.py')).model
    cfg.backbone.init_cfg = None
    with pytest.raises(TypeError, match='cannot train Mask2Former locally'
                       '.*panoptic query head'):
        LocalLearningModel(cfg)
