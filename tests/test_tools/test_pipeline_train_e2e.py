"""A 2-stage RetinaNet-R18 pipeline through the standard tools.

``tools/train.py`` under torchrun (2 CPU processes, gloo) trains the shapes
demo's pipeline config, evaluates, and saves checkpoints in the
single-process layout: ``tools/test.py`` evaluates one in one process,
resuming from the middle continues the run exactly, and an exception in one
stage ends both processes quickly with the error in the log.
"""
import re
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from tests.test_tools.test_dist_train_e2e import _free_port
from tests.test_tools.test_train_e2e import ENV, PY, ROOT

CONFIG = 'configs/detection/shapes/retinanet_r18_fpn_shapes_man_pipeline.py'
SHORT = ['train_cfg.max_iters=8', 'train_cfg.val_interval=8',
         'default_hooks.checkpoint.interval=4',
         'default_hooks.checkpoint.max_keep_ckpts=3',
         'default_hooks.logger.interval=2',
         'model_wrapper_cfg.report_interval=2',
         # Every box counts: an 8-iteration detector scores below 0.05.
         'model.model.test_cfg.score_thr=0.0']


def torchrun(script, *args, env=None, check=True, timeout=900):
    proc = subprocess.run(
        [PY, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={_free_port()}', f'tools/{script}', *args,
         '--launcher', 'pytorch'],
        cwd=ROOT, env=dict(env or ENV, CUDA_VISIBLE_DEVICES=''), text=True,
        capture_output=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, out[-6000:]
    return proc.returncode, out


def mAP(out):
    found = re.findall(r'coco/bbox_mAP: ([\d.]+)', out)
    assert found, out[-3000:]
    return float(found[-1])


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp('pipeline_work')
    _, out = torchrun('train.py', CONFIG, '--work-dir', str(work),
                      '--cfg-options', *SHORT)
    return work, out


def test_pipeline_trains_and_evaluates(run):
    work, out = run
    assert 'pipeline stages' in out and 'stage 1: modules' in out
    assert re.search(r'replica 0 stage 0: compute [\d.]+ s \(predicted', out)
    assert 'Iter(train) [8/8]' in out
    mAP(out)
    for it in (4, 8):
        assert (work / f'iter_{it}.pth').is_file()


def test_checkpoint_is_whole_and_test_py_evaluates_it(run, tmp_path):
    work, out = run
    ckpt = torch.load(work / 'iter_8.pth', map_location='cpu',
                      weights_only=False)
    # Every stage's weights and optimizer state, none left empty.
    assert all(v.numel() for v in ckpt['state_dict'].values())
    n_params = len([k for k in ckpt['state_dict']
                    if 'running' not in k and 'num_batches' not in k])
    assert len(ckpt['optimizer']['state']) == n_params
    proc = subprocess.run(
        [PY, 'tools/test.py', CONFIG, str(work / 'iter_8.pth'),
         '--work-dir', str(tmp_path), '--cfg-options', SHORT[-1]],
        cwd=ROOT, env=ENV, text=True,
        capture_output=True, timeout=600)
    test_out = proc.stdout + proc.stderr
    assert proc.returncode == 0, test_out[-4000:]
    # One process, the whole val set: the same mAP as the 2-process
    # validation at the end of training.
    assert mAP(test_out) == mAP(out)


def test_resume_continues_the_run_exactly(run, tmp_path):
    work, _ = run
    torchrun('train.py', CONFIG, '--work-dir', str(tmp_path), '--resume',
             str(work / 'iter_4.pth'), '--cfg-options', *SHORT)
    straight = torch.load(work / 'iter_8.pth', map_location='cpu',
                          weights_only=False)['state_dict']
    resumed = torch.load(tmp_path / 'iter_8.pth', map_location='cpu',
                         weights_only=False)['state_dict']
    assert straight.keys() == resumed.keys()
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], atol=1e-6,
                                   rtol=0, msg=lambda m: f'{k}: {m}')


def test_an_error_in_one_stage_ends_every_process(tmp_path):
    raised_at = tmp_path / 'raised_at'
    (tmp_path / 'inject_failure.py').write_text(textwrap.dedent(f'''\
        import time

        from mmengine.hooks import Hook
        from mmengine.registry import HOOKS


        @HOOKS.register_module()
        class FailInStageOne(Hook):
            def before_train_iter(self, runner, batch_idx, data_batch=None):
                if runner.model.stage == 1 and runner.iter == 2:
                    with open('{raised_at}', 'w') as f:
                        f.write(str(time.time()))
                    raise RuntimeError('injected failure in stage 1')
        '''))
    config = tmp_path / 'fail.py'
    config.write_text(textwrap.dedent(f'''\
        _base_ = '{ROOT}/{CONFIG}'
        custom_imports = dict(
            imports=['man_mm.models', 'man_mm.engine', 'man_mm.datasets',
                     'inject_failure'], allow_failed_imports=False)
        custom_hooks = [dict(type='man_mm.FeatureBankHook'),
                        dict(type='FailInStageOne')]
        '''))
    env = dict(ENV, PYTHONPATH=f'{ROOT}:{tmp_path}')
    code, out = torchrun('train.py', str(config), '--work-dir',
                         str(tmp_path / 'work'), '--cfg-options', *SHORT,
                         env=env, check=False, timeout=300)
    assert code != 0
    assert 'injected failure in stage 1' in out
    # Both processes were gone well within a minute of the error.
    assert time.time() - float(raised_at.read_text()) < 60
    assert not list((tmp_path / 'work').glob('*.pth'))


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-q']))
