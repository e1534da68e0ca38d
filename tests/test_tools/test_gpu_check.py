"""The GPU check's dry run: every code path of the script on the CPU, tiny
inputs, one iteration (only the CUDA calls are left out)."""
import json
import os
import os.path as osp
import subprocess

import pytest
import torch

from tests.helpers import ROOT


@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('gpu_check')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', 'tools/experiments/gpu_check.sh', '--dry-run', '--out-dir',
         str(out)], cwd=ROOT, env=env, text=True, capture_output=True,
        timeout=1200)
    return out, proc


def test_dry_run_measures_every_case_and_setting(dry_run):
    out, proc = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / 'gpu_check.json').read_text())
    assert result['device']['dry_run'] is True
    cases = {r['case'] for r in result['rows']}
    assert cases == {'retinanet_r50_2x512', 'yolov3_r34_32x512',
                     'edsr_x2_16x48', 'resnet32_b1024'}
    for case in cases:
        rows = [r for r in result['rows'] if r['case'] == case]
        assert not [r for r in rows if 'error' in r], rows
        kinds = {(r['variant'].split(' (')[0], r['amp']) for r in rows}
        for variant in ('BP', 'BP + with_cp', 'MAN default',
                        'MAN planner'):
            assert {(variant, False), (variant, True)} <= kinds, case
        man = [r for r in rows if r['variant'] == 'MAN default'][0]
        assert man['k'] > 1 and man['peak_mib'] > 0 and man['s_per_iter'] > 0
        planned = [r for r in rows if r['variant'].startswith('MAN planner')]
        assert planned[0]['planned']['num_modules'] == planned[0]['k']


def test_dry_run_runs_the_tools(dry_run):
    out, _ = dry_run
    result = json.loads((out / 'gpu_check.json').read_text())
    runs = {t['run']: t for t in result['tools']}
    assert len(runs) == 2
    for run in runs.values():
        assert run['returncode'] == 0, run.get('error')
        assert run['mem_peak'] > 0
    assert osp.isfile(out / 'train_amp' / 'iter_2.pth')
    md = (out / 'gpu_check.md').read_text()
    assert 'DRY RUN on CPU' in md and '| tools/train.py |' in md


def test_without_cuda_the_real_check_refuses_and_names_the_dry_run():
    if torch.cuda.is_available():
        pytest.skip('a GPU is visible')
    from tests.helpers import load_tool
    with pytest.raises(SystemExit, match='--dry-run'):
        load_tool('analysis_tools/gpu_check.py').main([])


def test_torch_focal_loss_equals_mmdets():
    from mmdet.models.losses import FocalLoss

    from man_mm.models import TorchFocalLoss
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(12, 5, generator=g, requires_grad=True)
    target = torch.randint(0, 6, (12, ), generator=g)  # 5 = background
    weight = torch.rand(12, generator=g)
    ours = TorchFocalLoss(use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0)(pred, target, weight,
                                           avg_factor=7.0)
    ref = FocalLoss(use_sigmoid=True, gamma=2.0, alpha=0.25,
                    loss_weight=1.0)(pred, target, weight, avg_factor=7.0)
    torch.testing.assert_close(ours, ref)
