"""Detection end to end: MAN trains an mmdet RetinaNet, mmdet evaluates it.

A few local-learning iterations on a tiny generated shapes set through
``tools/train.py``; the checkpoint, stripped of aux nets, then goes through
*mmdet's own* ``tools/test.py`` with a pure mmdet config (no man_mm import),
and its predictions must equal those of the unstripped MAN checkpoint.
"""
import os.path as osp
import pickle
import subprocess
import textwrap

import pytest
import torch

from tests.helpers import load_tool

from .test_train_e2e import (ENV, PY, ROOT, strip_aux, train_man,
                             write_man_config)

SHAPES_MODEL = osp.join(ROOT, 'configs', '_base_', 'models',
                        'retinanet_r18_fpn_shapes.py')
SHAPES_DATA = osp.join(ROOT, 'configs', '_base_', 'datasets',
                       'shapes_coco_detection.py')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    out = tmp_path_factory.mktemp('data') / 'shapes_coco'
    tool = load_tool('dataset_converters/make_shapes_coco.py')
    tool.make_shapes_coco(str(out), num_train=8, num_val=4)
    return str(out)


@pytest.fixture(scope='module')
def configs(tmp_path_factory, shapes):
    """A pure-mmdet config and its man_mm local-learning version."""
    d = tmp_path_factory.mktemp('configs')
    (d / 'plain.py').write_text(textwrap.dedent(f"""\
        _base_ = [
            '{SHAPES_MODEL}',
            '{SHAPES_DATA}',
            'mmdet::_base_/default_runtime.py',
        ]
        data_root = '{shapes}/'
        loader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
        train_dataloader = loader
        val_dataloader = loader
        test_dataloader = loader
        val_evaluator = dict(
            ann_file=data_root + 'annotations/instances_val.json')
        test_evaluator = val_evaluator
        # A few iterations leave every score near the focal-loss prior
        # (0.01): keep them all, so there are boxes to compare.
        model = dict(test_cfg=dict(score_thr=0.0))
        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=3,
                         val_interval=100)
        val_cfg = dict()
        test_cfg = dict()
        default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3),
                             logger=dict(interval=1))
        log_processor = dict(by_epoch=False)
        randomness = dict(seed=0)
        """))
    write_man_config(d, max_iters=3, num_modules=4)
    return d


@pytest.fixture(scope='module')
def trained(configs, tmp_path_factory):
    work = tmp_path_factory.mktemp('work') / 'man'
    return work, train_man(configs, work)


def _mmdet_test(config, checkpoint, tmp_path, tag, **env):
    """mmdet's own tools/test.py, outside the repo and its PYTHONPATH."""
    import mmdet
    mm_test = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools',
                       'test.py')
    out = tmp_path / f'{tag}.pkl'
    proc = subprocess.run(
        [PY, mm_test, str(config), str(checkpoint), '--work-dir',
         str(tmp_path / tag), '--out', str(out)],
        cwd=str(tmp_path), env=dict(ENV, PYTHONPATH='', **env), text=True,
        capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'coco/bbox_mAP:' in proc.stdout + proc.stderr
    with open(out, 'rb') as f:
        return pickle.load(f)


def test_train_logs_local_detection(trained):
    work, proc = trained
    log = proc.stdout + proc.stderr
    assert 'local learning: K=4 trainable modules' in log
    assert 'loss_aux:' in log and 'bank_mem:' in log
    assert osp.isfile(work / 'iter_3.pth')


def test_stripped_checkpoint_evaluates_with_plain_mmdet(
        trained, configs, tmp_path):
    work, _ = trained
    plain_ckpt = tmp_path / 'plain.pth'
    state = strip_aux(work / 'iter_3.pth', plain_ckpt)
    assert any(k.startswith('bbox_head.') for k in state)

    plain = _mmdet_test(configs / 'plain.py', plain_ckpt, tmp_path, 'plain')
    # A full training checkpoint (message hub, optimizer) needs torch's
    # pre-2.6 loading under mmengine 0.10; the stripped one above does not.
    local = _mmdet_test(configs / 'man.py', work / 'iter_3.pth', tmp_path,
                        'man', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    assert len(plain) == len(local) == 4
    for a, b in zip(plain, local):
        assert a['img_id'] == b['img_id']
        pa, pb = a['pred_instances'], b['pred_instances']
        assert len(pa['scores']) > 0
        torch.testing.assert_close(pa['bboxes'], pb['bboxes'])
        torch.testing.assert_close(pa['scores'], pb['scores'])
        assert torch.equal(pa['labels'], pb['labels'])
