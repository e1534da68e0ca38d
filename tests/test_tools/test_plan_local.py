"""tools/analysis_tools/plan_local.py: predicted settings match measurement."""
import json
import os.path as osp

from tests.helpers import ROOT, load_tool

SMALL_RETINANET = f"""
_base_ = [{osp.join(ROOT, 'configs/detection/retinanet/'
                     'retinanet_r50_fpn_160e_coco_bp.py')!r}]
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32),
    bbox_head=dict(num_classes=3, in_channels=32, feat_channels=32,
                   stacked_convs=1))
"""


def _plan(tmp_path, *extra):
    cfg = tmp_path / 'retinanet_r18_small.py'
    cfg.write_text(SMALL_RETINANET)
    out = tmp_path / 'plan.json'
    result = load_tool('analysis_tools/plan_local.py').main([
        str(cfg), '--batch-size', '2', '--input-size', '128', '128',
        '--out', str(out), *extra])
    assert json.loads(out.read_text())['plan'] == result['plan']
    return result


def test_planned_setting_measures_within_ten_percent(tmp_path):
    result = _plan(tmp_path, '--ks', '2', '3', '6', '--step-per-module',
                   '--budget-mib', '400', '--verify')
    plan = result['plan']
    assert {(r['num_modules'], r['with_cp']) for r in plan} == {
        (k, cp) for k in (2, 3, 6) for cp in (False, True)}
    fits = [r['fits'] for r in plan]
    assert fits == sorted(fits, reverse=True)  # fitting settings first
    times = [r['time_s'] for r in plan if r['fits']]
    assert times == sorted(times)
    # More modules need more aux state: the predicted totals say so.
    static = {r['num_modules']: r['static_mib'] for r in plan}
    assert static[2] < static[3] < static[6]
    verify = result['verify']
    assert verify['setting'] is plan[0]
    assert abs(verify['total_error']) <= 0.10, verify
    assert 'model.step_per_module=True' in plan[0]['options']


def test_no_setting_fits_a_tiny_budget(tmp_path, capsys):
    result = _plan(tmp_path, '--ks', '2', '--budget-mib', '1')
    assert not any(r['fits'] for r in result['plan'])
    assert 'verify' not in result
    assert 'no setting fits the budget' in capsys.readouterr().out


def test_lean_slm_switch_is_planned_with_its_config_line(tmp_path):
    result = _plan(tmp_path, '--ks', '3', '--slm-widths', '1.0', '0.5')
    rows = {(r['with_cp'], r['slm_width']): r for r in result['plan']}
    assert set(rows) == {(cp, w) for cp in (False, True) for w in (1.0, 0.5)}
    # Narrower SLM blocks: fewer aux weights, gradients and optimizer state.
    assert rows[False, 0.5]['static_mib'] < rows[False, 1.0]['static_mib']
    assert 'model.aux.width=0.5' in rows[False, 0.5]['options']
    assert 'width' not in rows[False, 1.0]['options']


def test_lean_switch_is_refused_for_a_classifier(tmp_path):
    import pytest
    config = osp.join(ROOT, 'configs/classification',
                      'resnet32_digits_man_k16.py')
    with pytest.raises(SystemExit, match='lean SLM switch'):
        load_tool('analysis_tools/plan_local.py').main([
            config,
            '--batch-size', '2', '--input-size', '32', '32',
            '--slm-widths', '0.5'])
