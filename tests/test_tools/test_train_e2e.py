"""tools/train.py, tools/test.py, strip_aux.py and mim, run as a user would.

A local-learning model is trained on the embedded digits data until it is
well above chance; its checkpoint, stripped of aux nets, is then evaluated
by *mmpretrain's own* test script through a config that is pure mmpretrain,
and must score exactly what man_mm's test script gives the unstripped one
(a model at chance could not tell a checkpoint that lost its input
normalisation from a good one).
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.helpers import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PY = sys.executable
ENV = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')


def run(*args, cwd, check=True):
    proc = subprocess.run([PY, *args], cwd=cwd, env=ENV, text=True,
                          capture_output=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    mod = load_tool('dataset_converters/prepare_digits.py')
    out = str(tmp_path_factory.mktemp('data') / 'digits')
    counts = mod.prepare_digits(out)
    assert counts == {'train': 1442, 'val': 355}  # every 5th per class
    return out


@pytest.fixture(scope='module')
def configs(tmp_path_factory, digits):
    """A pure-mmpretrain config and its man_mm local-learning version."""
    d = tmp_path_factory.mktemp('configs')
    (d / 'plain.py').write_text(textwrap.dedent(f"""\
        _base_ = [
            'mmpretrain::_base_/models/resnet18_cifar.py',
            '{ROOT}/configs/_base_/datasets/digits_bs64.py',
            'mmpretrain::_base_/default_runtime.py',
        ]
        # mmpretrain's CIFAR ResNet-18 at a quarter of its width (16..128
        # channels): fast enough on a CPU to learn the digits in a test.
        model = dict(backbone=dict(stem_channels=16, base_channels=16),
                     head=dict(in_channels=128))
        data_root = '{digits}'
        train_dataloader = dict(
            batch_size=8, num_workers=0,
            dataset=dict(data_root=data_root, indices=32,
                         pipeline={{{{_base_.test_pipeline}}}}),
            sampler=dict(seed=0))
        val_dataloader = dict(
            batch_size=32, num_workers=0,
            dataset=dict(data_root=data_root, indices=64))
        test_dataloader = val_dataloader
        optim_wrapper = dict(optimizer=dict(
            type='SGD', lr=0.05, momentum=0.9, nesterov=True,
            weight_decay=1e-4))
        # An explicit end: mmengine clips an open-ended schedule to
        # max_iters, which the resume test shortens for its first half.
        param_scheduler = dict(type='CosineAnnealingLR', by_epoch=False,
                               begin=0, end=4, T_max=4)
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=4,
                         val_interval=100)
        val_cfg = dict()
        test_cfg = dict()
        default_hooks = dict(
            checkpoint=dict(by_epoch=False, interval=2),
            logger=dict(interval=1))
        log_processor = dict(by_epoch=False)
        randomness = dict(seed=0)
        """))
    write_man_config(d, max_iters=4, num_modules=4)
    return d


def write_man_config(directory, max_iters, num_modules=None):
    """``directory/man.py``: ``plain.py`` beside it wrapped in a
    ``LocalLearningModel``, trained ``max_iters`` iterations by the man_mm
    loop with the feature-bank hook (what a user's MAN config adds)."""
    k = '' if num_modules is None else f', num_modules={num_modules}'
    (directory / 'man.py').write_text(textwrap.dedent(f"""\
        _base_ = './plain.py'
        custom_imports = dict(imports=['man_mm.models', 'man_mm.engine'],
                              allow_failed_imports=False)
        model = dict(_delete_=True, type='man_mm.LocalLearningModel',
                     model={{{{_base_.model}}}}{k})
        train_cfg = dict(_delete_=True,
                         type='man_mm.LocalIterBasedTrainLoop',
                         max_iters={max_iters}, val_interval=100)
        custom_hooks = [dict(type='man_mm.FeatureBankHook')]
        """))


def train_man(configs, work_dir, *extra):
    """Train ``configs/man.py`` (see :func:`write_man_config`) with
    ``tools/train.py`` into ``work_dir``."""
    return run('tools/train.py', str(configs / 'man.py'), '--work-dir',
               str(work_dir), *extra, cwd=ROOT)


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=False)[
        'state_dict']


def strip_aux(checkpoint, out):
    """Run strip_aux.py as a user would; return the stripped state dict."""
    run('tools/model_converters/strip_aux.py', str(checkpoint), str(out),
        cwd=ROOT)
    state = _state(out)
    assert not any(k.startswith(('aux_heads', 'model.')) for k in state)
    return state


@pytest.fixture(scope='module')
def trained(configs, tmp_path_factory):
    work = tmp_path_factory.mktemp('work') / 'full'
    proc = train_man(configs, work)
    return work, proc


LONG_ITERS = 80


@pytest.fixture(scope='module')
def trained_long(configs, tmp_path_factory):
    """``man.py`` trained on all 1,442 training digits with the data
    set's normalisation (mean 45, std 80) until well above chance."""
    work = tmp_path_factory.mktemp('work') / 'long'
    train_man(configs, work, '--cfg-options',
              f'train_cfg.max_iters={LONG_ITERS}',
              f'param_scheduler.end={LONG_ITERS}',
              f'param_scheduler.T_max={LONG_ITERS}',
              'train_dataloader.dataset.indices=None',
              'train_dataloader.batch_size=32', 'optim_wrapper.optimizer.lr=0.1',
              f'default_hooks.checkpoint.interval={LONG_ITERS}')
    return work / f'iter_{LONG_ITERS}.pth'


def test_train_logs_local_modules_and_act_mem(trained):
    work, proc = trained
    log = proc.stdout + proc.stderr
    assert 'local learning: K=4 trainable modules' in log
    assert 'act_mem:' in log and 'loss_aux:' in log
    # The true peak is metered on the first iteration (meter_interval).
    assert 'mem_peak:' in log
    assert osp.isfile(work / 'iter_4.pth')


def test_stripped_checkpoint_evaluates_with_plain_mmpretrain(
        trained_long, configs, tmp_path):
    import mmpretrain
    plain_ckpt = tmp_path / 'plain.pth'
    strip_aux(trained_long, plain_ckpt)

    # mmpretrain's own test script, a pure mmpretrain config, no man_mm.
    mm_test = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                       'test.py')
    env = dict(ENV, PYTHONPATH='')
    proc = subprocess.run(
        [PY, mm_test, str(configs / 'plain.py'), str(plain_ckpt),
         '--work-dir', str(tmp_path / 'plain_eval')],
        cwd=str(tmp_path), env=env, text=True, capture_output=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    plain_acc = _accuracy(proc.stdout + proc.stderr)

    # The unstripped checkpoint through man_mm's tools/test.py agrees.
    metrics = tmp_path / 'man.json'
    run('tools/test.py', str(configs / 'man.py'), str(trained_long),
        '--work-dir', str(tmp_path / 'man_eval'), '--out', str(metrics),
        '--out-item', 'metrics', cwd=ROOT)
    import json
    man_acc = json.loads(metrics.read_text())['accuracy/top1']
    assert man_acc > 40, f'{man_acc}: too close to chance (10%) to tell'
    assert plain_acc == pytest.approx(man_acc, abs=1e-6)


def test_evaluate_strips_and_tests_as_train_and_compare_does(
        trained_long, configs, tmp_path):
    """``man_mm.analysis.runs.evaluate`` (train_and_compare's
    ``--test-config``): the MAN checkpoint, stripped, through tools/test.py
    with the plain config, gives man_mm's own test accuracy."""
    from man_mm.analysis.runs import evaluate
    metrics = evaluate(str(configs / 'plain.py'), str(trained_long),
                       str(tmp_path / 'eval'))
    assert osp.isfile(tmp_path / 'eval' / 'stripped.pth')
    out = tmp_path / 'man.json'
    run('tools/test.py', str(configs / 'man.py'), str(trained_long),
        '--work-dir', str(tmp_path / 'man_eval'), '--out', str(out),
        '--out-item', 'metrics', cwd=ROOT)
    import json
    man_acc = json.loads(out.read_text())['accuracy/top1']
    assert man_acc > 40
    assert metrics['accuracy/top1'] == pytest.approx(man_acc, abs=1e-6)


def _accuracy(log):
    import re
    found = re.findall(r'accuracy/top1: ([0-9.]+)', log)
    assert found, log[-3000:]
    return float(found[-1])


def test_resume_continues_the_run(trained, configs, tmp_path):
    full, _ = trained
    part = tmp_path / 'part'
    train_man(configs, part, '--cfg-options', 'train_cfg.max_iters=2')
    assert osp.isfile(part / 'iter_2.pth')
    train_man(configs, part, '--resume')
    a, b = _state(full / 'iter_4.pth'), _state(part / 'iter_4.pth')
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)


def test_existing_checkpoints_are_not_overwritten(trained, configs):
    work, _ = trained
    before = os.path.getmtime(work / 'iter_4.pth')
    proc = run('tools/train.py', str(configs / 'man.py'), '--work-dir',
               str(work), cwd=ROOT, check=False)
    assert proc.returncode != 0
    assert 'already holds checkpoints' in proc.stderr
    assert os.path.getmtime(work / 'iter_4.pth') == before


def test_missing_data_root_is_named_with_the_fix(configs, tmp_path):
    proc = run('tools/train.py', str(configs / 'man.py'), '--work-dir',
               str(tmp_path / 'w'), '--cfg-options',
               'train_dataloader.dataset.data_root=data/nowhere/my_digits',
               cwd=ROOT, check=False)
    assert proc.returncode != 0
    assert "data root 'data/nowhere/my_digits' of train_dataloader does " \
        'not exist: put the data set there' in proc.stderr
    assert '--cfg-options train_dataloader.dataset.data_root=PATH' \
        in proc.stderr


def test_missing_data_root_inside_concat_dataset_is_named(tmp_path):
    # VOC 07+12 is a ConcatDataset: its member data roots are checked too,
    # and the message gives the --cfg-options key that reaches them.
    proc = run('tools/train.py',
               'configs/detection/yolo/yolov3_r34_160e_voc0712_man.py',
               '--work-dir', str(tmp_path / 'w'), '--cfg-options',
               'train_dataloader.dataset.datasets.0.data_root=data/nowhere/',
               cwd=ROOT, check=False)
    assert proc.returncode != 0
    assert "data root 'data/nowhere/' of train_dataloader" in proc.stderr
    assert 'train_dataloader.dataset.datasets.0.data_root=PATH' \
        in proc.stderr


def test_mim_train_as_the_readme_says(tmp_path):
    """``mim train man_mm configs/...`` from a folder that is not the
    repository, with no PYTHONPATH: mim finds man_mm's config and tools
    through the installed package, and the embedded data set is written
    under the working folder."""
    mim = shutil.which('mim', path=osp.dirname(PY))
    if mim is None:
        pytest.fail('mim is not installed beside this interpreter')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['OMP_NUM_THREADS'] = '1'
    proc = subprocess.run(
        [mim, 'train', 'man_mm',
         'configs/classification/resnet32_digits_man_k16.py',
         '--work-dir', str(tmp_path / 'mim'), '--cfg-options',
         'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=16',
         'val_dataloader.dataset.indices=16',
         'default_hooks.checkpoint.interval=1'],
        cwd=str(tmp_path), env=env, text=True, capture_output=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert osp.isfile(tmp_path / 'mim' / 'epoch_1.pth')
    assert osp.isdir(tmp_path / 'data' / 'digits' / 'train')
