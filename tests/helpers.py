"""Shared builders for the tests."""
import copy
import importlib.util
import os.path as osp

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path):
    """Import a script under ``tools/`` (not a package) as a module."""
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cifar_classifier(depth=20, num_classes=10):
    """Config of an mmpretrain ImageClassifier on a man_mm CifarResNet."""
    import man_mm.models  # noqa: F401  (registers man_mm.CifarResNet)
    return dict(
        type='ImageClassifier',
        backbone=dict(type='man_mm.CifarResNet', depth=depth),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=64,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=num_classes))


def local_model(depth=20, **kwargs):
    from man_mm.models import LocalLearningModel
    return LocalLearningModel(model=cifar_classifier(depth), **kwargs)


def fake_batch(n=8, size=32, num_classes=10, seed=0):
    """A random batch in the format mmpretrain's data loader produces."""
    from man_mm.testing import fake_cls_batch
    return fake_cls_batch(n, (3, size, size), num_classes, seed)


def sgd_wrapper(model, lr=0.1, **kwargs):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), **kwargs)


def edit_model(generator):
    """An mmagic ``BaseEditModel`` config around ``generator``, with the L1
    pixel loss and the [0, 255] -> [0, 1] preprocessor of mmagic's SR
    configs."""
    return dict(
        type='BaseEditModel', generator=generator,
        pixel_loss=dict(type='L1Loss', loss_weight=1.0, reduction='mean'),
        train_cfg=dict(), test_cfg=dict(),
        data_preprocessor=dict(type='DataPreprocessor', mean=[0., 0., 0.],
                               std=[255., 255., 255.]))


def activation_peaks(builders, batch, wrapper):
    """Saved-activation peak (bytes) of one ``train_step`` of each model.

    Args:
        builders (dict): Name -> callable that builds the model (each from
            the same seed).
        batch (dict): The batch, as the data loader gives it.
        wrapper (callable): ``wrapper(model)`` gives its optimizer wrapper.

    Returns:
        dict: Name -> peak bytes.
    """
    from man_mm.utils import ActivationMemoryMeter
    peaks = {}
    for key, build in builders.items():
        torch.manual_seed(0)
        model = build()
        with ActivationMemoryMeter.for_model(model) as meter:
            model.train_step(copy.deepcopy(batch), wrapper(model))
        peaks[key] = meter.peak_bytes
    return peaks


def adam_wrapper(model, lr=1e-3):
    """Adam, as mmagic's SR configs train."""
    from mmengine.optim import OptimWrapper
    return OptimWrapper(torch.optim.Adam(model.parameters(), lr=lr))


# Small detectors, built from mmdet's own base configs.
def retinanet(depth=18, frozen_stages=1, small=True):
    """mmdet's RetinaNet config (its _base_ model) on a ResNet."""
    from mmengine.config import Config
    import mmdet
    import os.path as osp
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__),
        '.mim/configs/_base_/models/retinanet_r50_fpn.py')).model.to_dict()
    cfg['backbone'].update(depth=depth, frozen_stages=frozen_stages,
                           init_cfg=None)
    if depth < 50:
        cfg['neck']['in_channels'] = [64, 128, 256, 512]
    cfg['bbox_head']['num_classes'] = 3
    if small:
        cfg['neck']['out_channels'] = 32
        cfg['bbox_head'].update(in_channels=32, feat_channels=32,
                                stacked_convs=1)
    return cfg


def yolov3_r34():
    return dict(
        type='YOLOV3',
        data_preprocessor=dict(type='DetDataPreprocessor',
                               mean=[0, 0, 0], std=[255., 255., 255.],
                               bgr_to_rgb=True, pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=34, out_indices=(1, 2, 3),
                      frozen_stages=1, init_cfg=None),
        neck=dict(type='YOLOV3Neck', num_scales=3,
                  in_channels=[512, 256, 128], out_channels=[64, 32, 16]),
        bbox_head=dict(
            type='YOLOV3Head', num_classes=3, in_channels=[64, 32, 16],
            out_channels=[128, 64, 32],
            anchor_generator=dict(
                type='YOLOAnchorGenerator',
                base_sizes=[[(116, 90), (156, 198), (373, 326)],
                            [(30, 61), (62, 45), (59, 119)],
                            [(10, 13), (16, 30), (33, 23)]],
                strides=[32, 16, 8]),
            bbox_coder=dict(type='YOLOBBoxCoder'),
            featmap_strides=[32, 16, 8],
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True,
                          loss_weight=1.0, reduction='sum'),
            loss_conf=dict(type='CrossEntropyLoss', use_sigmoid=True,
                           loss_weight=1.0, reduction='sum'),
            loss_xy=dict(type='CrossEntropyLoss', use_sigmoid=True,
                         loss_weight=2.0, reduction='sum'),
            loss_wh=dict(type='MSELoss', loss_weight=2.0, reduction='sum')),
        train_cfg=dict(assigner=dict(type='GridAssigner', pos_iou_thr=0.5,
                                     neg_iou_thr=0.5, min_pos_iou=0)),
        test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                      conf_thr=0.005, nms=dict(type='nms', iou_threshold=0.45),
                      max_per_img=100))


def det_batch(n=2, size=128, seed=0):
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    return demo_mm_inputs(n, [[3, size, size]] * n, num_items=[3] * n,
                          num_classes=3)


def faster_rcnn_r18():
    """mmdet's Faster R-CNN R50-FPN base model on a ResNet-18, narrow."""
    import os.path as osp

    import mmdet
    from mmengine.config import Config, ConfigDict
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__),
        '.mim/configs/_base_/models/faster-rcnn_r50_fpn.py')).model.to_dict()
    cfg['backbone'].update(depth=18, init_cfg=None)
    cfg['neck'].update(in_channels=[64, 128, 256, 512], out_channels=32)
    cfg['rpn_head'].update(in_channels=32, feat_channels=32)
    roi = cfg['roi_head']
    roi['bbox_roi_extractor']['out_channels'] = 32
    roi['bbox_head'].update(in_channels=32, fc_out_channels=64,
                            num_classes=3)
    return ConfigDict(cfg)  # mmdet reads train_cfg.rpn as an attribute
