"""The comparison tools: benchmark_local.py and train_and_compare.py."""
import json
import os.path as osp

import pytest

from tests.helpers import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(name):
    return load_tool(f'analysis_tools/{name}.py')


def test_benchmark_local_compares_bp_and_local_variants(tmp_path):
    out = tmp_path / 'bench.json'
    rows = _load('benchmark_local').main([
        osp.join(ROOT, 'configs/classification/resnet32_cifar10_bp.py'),
        '--batch-size', '4', '--ks', '4', '--aux', 'slm', 'dgl', '--iters',
        '1', '--warmup', '0', '--no-cp', '--out', str(out)])
    methods = [(r['method'], str(r['K'])) for r in rows]
    assert methods[0] == ('BP', '-') and len(methods) == 3
    assert {k for _, k in methods[1:]} == {'4'}
    bp = rows[0]['act_mem_mib']
    assert all(0 < r['act_mem_mib'] < bp for r in rows[1:])
    saved = json.loads(out.read_text())
    assert saved['batch_size'] == 4 and saved['iters'] == 1
    assert [r['act_mem_mib'] for r in saved['rows']] == \
        [r['act_mem_mib'] for r in rows]


def test_benchmark_local_rejects_an_aux_of_another_task():
    with pytest.raises(SystemExit, match='unknown --aux'):
        _load('benchmark_local').main([
            osp.join(ROOT, 'configs/classification/resnet32_cifar10_bp.py'),
            '--aux', 'man_noadapt'])


def test_runs_are_read_from_mmengine_scalars(tmp_path):
    from man_mm.analysis import runs as tool
    run = tmp_path / 'cfg' / '20261127_000000' / 'vis_data'
    run.mkdir(parents=True)
    rows = [dict(iter=1, loss=1.0, time=2.0, act_mem=30.0, mem_peak=90.0),
            dict(iter=2, loss=0.5, time=4.0, act_mem=32.0, mem_peak=95.0),
            {'coco/bbox_mAP': 0.25, 'step': 2}]
    (run / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in rows) + '\n')
    row = tool.summarise('cfg', tool.read_scalars(str(tmp_path / 'cfg')),
                         'coco/bbox_mAP')
    assert row == dict(config='cfg', mem_peak_mib=95.0, act_mem_mib=32.0,
                       time_s=3.0,
                       metric=0.25, iters=2)
    # mmagic's GAN restorers log no total 'loss', only the named ones.
    gan = [dict(iter=1, loss_pix=0.1, loss_d_fake=0.7, time=2.0,
                mem_peak=80.0), dict(PSNR=20.5, step=1)]
    assert tool.summarise('gan', gan, 'PSNR') == dict(
        config='gan', mem_peak_mib=80.0, act_mem_mib=None, time_s=2.0,
        metric=20.5, iters=1)
    line = ('11/27 16:21:29 - mmengine - INFO - Iter(train) [ 250/1000]  '
            'lr: 1e-3  loss: 0.47')
    assert tool.progress(line, width=8) == '[##......] 250/1000  lr: 1e-3  ' \
        'loss: 0.47'


def test_benchmark_local_ddp_two_processes_against_one(tmp_path):
    # A subprocess: its spawned workers import the script by path.
    import subprocess
    import sys
    out = tmp_path / 'ddp.json'
    subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark_local_ddp.py',
         'configs/classification/resnet32_digits_man_k16.py',
         '--global-batch', '4', '--input-size', '16', '16', '--iters', '1',
         '--out', str(out)],
        cwd=ROOT, check=True, timeout=600, capture_output=True)
    rows = json.loads(out.read_text())['results']
    assert [r['procs'] for r in rows] == [1, 2, 2]
    assert [r['overlap'] for r in rows] == [None, True, False]
    single, on, off = rows
    assert single['comm_s_per_iter'] == 0 and on['comm_s_per_iter'] > 0
    assert on['allreduce_mib_per_iter'] == off['allreduce_mib_per_iter'] > 0
    # Each process holds its half batch's activations.
    assert on['act_mem_mib'] < single['act_mem_mib']
    assert on['act_mem_mib_per_rank'][0] == on['act_mem_mib_per_rank'][1]


def test_zoo_coverage_names_what_it_refuses_and_why():
    """Without building: a ResNet or ViT classifier is wrapped; a backbone
    without a splitter, a ViT's dense output, DeiT's own forward and an
    unknown model are refused with the reason."""
    from mmengine.config import Config
    tool = _load('zoo_coverage')
    import man_mm.models  # noqa: F401
    import mmpretrain.models  # noqa: F401

    def cfg(**model):
        return Config(dict(model=model))

    ok, reason, _, _ = tool.verdict(
        cfg(type='ImageClassifier', backbone=dict(type='ResNet', depth=18)),
        'mmpretrain', 'backbone')
    assert ok and reason == 'ClsTaskAdapter + ResNetUnits'
    ok, reason, _, _ = tool.verdict(
        cfg(type='ImageClassifier', backbone=dict(type='HiViT')),
        'mmpretrain', 'backbone')
    assert not ok and reason == 'backbone HiViT: no unit splitter'
    ok, _, _, _ = tool.verdict(
        cfg(type='ImageClassifier',
            backbone=dict(type='VisionTransformer')), 'mmpretrain',
        'backbone')
    assert ok
    ok, reason, _, _ = tool.verdict(
        cfg(type='ImageClassifier',
            backbone=dict(type='VisionTransformer', out_type='featmap')),
        'mmpretrain', 'backbone')
    assert not ok and 'dense output' in reason
    ok, reason, _, _ = tool.verdict(
        cfg(type='ImageClassifier',
            backbone=dict(type='DistilledVisionTransformer')),
        'mmpretrain', 'backbone')
    assert not ok and 'its own forward' in reason
    ok, reason, _, _ = tool.verdict(
        cfg(type='NoSuchModel'), 'mmpretrain', 'backbone')
    assert not ok and 'not registered' in reason
    ok, reason, _, _ = tool.verdict(Config(dict()), 'mmpretrain',
                                    'backbone')
    assert not ok and reason == 'no model in the config'

    # A config resolves in its own default_scope: mmdet's CSPNeXt ImageNet
    # configs are mmpretrain classifiers on an mmdet backbone.
    cspnext = Config(dict(default_scope='mmpretrain', model=dict(
        type='ImageClassifier', backbone=dict(type='mmdet.CSPNeXt'))))
    ok, reason, _, _ = tool.verdict(cspnext, 'mmdet', 'backbone')
    assert ok and reason == 'ClsTaskAdapter + CSPUnits'
    # The table counts model configs; fragments without a model apart.
    table = tool.summary({'mmdet': [
        dict(config='a.py', wrapped=True, reason='x'),
        dict(config='b.py', wrapped=False, reason='model Y: no adapter'),
        dict(config='tta.py', wrapped=False, reason=tool.NO_MODEL)]})
    assert '| mmdet | 2 (+1 without a model) | 1 | 50.0% |' in table


def test_zoo_coverage_counts_gan_restorers_and_refuses_glean_and_dic():
    """SRGAN-family configs are wrapped when their generator splits;
    GLEAN's generator (U-shaped) and DIC (recurrent) are refused with the
    reason; TTSR (reference-based) is no single-image restorer."""
    from mmengine.config import Config
    tool = _load('zoo_coverage')
    import man_mm.models  # noqa: F401
    import mmagic.models  # noqa: F401

    def cfg(**model):
        return Config(dict(model=model))

    ok, reason, _, _ = tool.verdict(
        cfg(type='ESRGAN', generator=dict(type='RRDBNet')), 'mmagic',
        'generator')
    assert ok and reason == 'SRGANTaskAdapter + RRDBNetUnits'
    ok, reason, _, _ = tool.verdict(
        cfg(type='SRGAN', generator=dict(type='GLEANStyleGANv2')), 'mmagic',
        'generator')
    assert not ok and reason.startswith('generator GLEANStyleGANv2: U-shaped')
    ok, reason, _, _ = tool.verdict(
        cfg(type='DIC', generator=dict(type='DICNet')), 'mmagic',
        'generator')
    assert not ok and 'recurrent feedback network' in reason
    assert tool.is_restorer(cfg(type='RealESRGAN', generator=dict()),
                            'mmagic')
    assert not tool.is_restorer(cfg(type='TTSR', generator=dict()), 'mmagic')
