"""Super-resolution end to end: MAN trains an mmagic EDSR, mmagic tests it.

A few local-learning iterations on three embedded photographs (cropped to
48x48) through ``tools/train.py``; the checkpoint, stripped of aux nets, then
goes through *mmagic's own* ``tools/test.py`` with a pure mmagic config (no
man_mm import), and must give the PSNR/SSIM that man_mm's ``tools/test.py``
gives on the unstripped checkpoint. Also: the embedded data layout, and
``tools/train.py``'s early stops on missing SR data and x2 checkpoints.
"""
import json
import os
import os.path as osp
import subprocess
import textwrap

import pytest
from mmengine.config import Config
from PIL import Image

from tests.helpers import load_tool

from .test_train_e2e import (ENV, PY, ROOT, run, strip_aux, train_man,
                             write_man_config)

PHOTOS = ['astronaut.png', 'coffee.png', 'chelsea.png']  # 2 train, 1 val


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    out = tmp_path_factory.mktemp('data') / 'sr_photos'
    tool = load_tool('dataset_converters/prepare_sr_photos.py')
    splits = tool.prepare_sr_photos(str(out), names=PHOTOS, max_side=48)
    assert splits == {'train': ['astronaut', 'coffee'], 'val': ['chelsea']}
    return str(out)


def test_photos_are_written_in_mmagic_layout(photos):
    tool = load_tool('dataset_converters/prepare_sr_photos.py')
    assert set(tool.PHOTOS.values()) == {'train', 'val'}  # split by image
    for split, name in (('train', 'astronaut'), ('val', 'chelsea')):
        with Image.open(osp.join(photos, split, 'GTmod12',
                                 f'{name}.png')) as hr:
            assert hr.size == (48, 48) and hr.mode == 'RGB'
        for scale in (2, 3, 4):
            with Image.open(osp.join(photos, split, f'LRbicx{scale}',
                                     f'{name}.png')) as lr:
                assert lr.size == (48 // scale, 48 // scale)
    # Idempotent: a second call reads the marker, writes nothing.
    assert tool.prepare_sr_photos(photos)['val'] == ['chelsea']


@pytest.fixture(scope='module')
def configs(tmp_path_factory, photos):
    """A pure-mmagic config and its man_mm local-learning version."""
    d = tmp_path_factory.mktemp('configs')
    (d / 'plain.py').write_text(textwrap.dedent(f"""\
        _base_ = 'mmagic::edsr/edsr_x2c64b16_1xb16-300k_div2k.py'
        data_root = '{photos}'
        model = dict(generator=dict(mid_channels=8, num_blocks=4))
        load = [
            dict(type='LoadImageFromFile', key='img', color_type='color',
                 channel_order='rgb', imdecode_backend='cv2'),
            dict(type='LoadImageFromFile', key='gt', color_type='color',
                 channel_order='rgb', imdecode_backend='cv2'),
        ]
        train_dataloader = dict(
            _delete_=True, batch_size=2, num_workers=0,
            persistent_workers=False,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dict(
                type='BasicImageDataset', data_root=data_root,
                data_prefix=dict(img='train/LRbicx2', gt='train/GTmod12'),
                pipeline=load + [
                    dict(type='SetValues', dictionary=dict(scale=2)),
                    dict(type='PairedRandomCrop', gt_patch_size=24),
                    dict(type='PackInputs')]))
        val_dataloader = dict(
            _delete_=True, batch_size=1, num_workers=0,
            persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='BasicImageDataset', data_root=data_root,
                data_prefix=dict(img='val/LRbicx2', gt='val/GTmod12'),
                pipeline=load + [dict(type='PackInputs')]))
        val_evaluator = dict(
            _delete_=True, type='Evaluator',
            metrics=[dict(type='PSNR', crop_border=2),
                     dict(type='SSIM', crop_border=2)])
        test_dataloader = val_dataloader
        test_evaluator = val_evaluator
        optim_wrapper = dict(optimizer=dict(lr=1e-3))
        train_cfg = dict(max_iters=3, val_interval=100)
        default_hooks = dict(
            checkpoint=dict(interval=3, out_dir=None, save_best=None),
            logger=dict(interval=1))
        custom_hooks = []
        randomness = dict(seed=0)
        """))
    write_man_config(d, max_iters=3)
    return d


@pytest.fixture(scope='module')
def trained(configs, tmp_path_factory):
    work = tmp_path_factory.mktemp('work') / 'man'
    return work, train_man(configs, work)


def _mmagic_test(config, checkpoint, tmp_path):
    """mmagic's own tools/test.py, outside the repo and its PYTHONPATH."""
    import mmagic
    mm_test = osp.join(osp.dirname(mmagic.__file__), '.mim', 'tools',
                       'test.py')
    out = tmp_path / 'mmagic.json'
    proc = subprocess.run(
        [PY, mm_test, str(config), str(checkpoint), '--work-dir',
         str(tmp_path / 'mmagic'), '--out', str(out)],
        cwd=str(tmp_path), env=dict(ENV, PYTHONPATH=''), text=True,
        capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    with open(out) as f:
        return json.load(f)


def test_stripped_edsr_evaluates_with_plain_mmagic(trained, configs,
                                                   tmp_path):
    work, proc = trained
    log = proc.stdout + proc.stderr
    assert 'local learning: K=4 trainable modules' in log
    assert 'loss_aux:' in log and 'bank_mem:' in log
    plain_ckpt = tmp_path / 'plain.pth'
    state = strip_aux(work / 'iter_3.pth', plain_ckpt)
    assert 'generator.conv_first.weight' in state

    plain = _mmagic_test(configs / 'plain.py', plain_ckpt, tmp_path)
    out = tmp_path / 'man.json'
    run('tools/test.py', str(configs / 'man.py'), str(work / 'iter_3.pth'),
        '--work-dir', str(tmp_path / 'man'), '--out', str(out),
        '--out-item', 'metrics', cwd=ROOT)
    with open(out) as f:
        local = json.load(f)
    assert set(plain) >= {'PSNR', 'SSIM'}
    assert plain['PSNR'] > 5  # a real reconstruction, not NaN/garbage
    for key in ('PSNR', 'SSIM'):
        assert abs(plain[key] - local[key]) < 1e-6, (key, plain, local)


def test_train_names_missing_sr_data_and_x2_checkpoints(tmp_path):
    tool = load_tool('train.py')
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/super_resolution/photos/edsr_x2c32b8_photos_man.py'))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'sr_photos')
    with pytest.raises(FileNotFoundError,
                       match='prepare_sr_photos.py --out .*sr_photos'):
        tool.check_data_roots(cfg, write_embedded=False)

    # DIV2K configs: train on DIV2K, test on a list (Set5, Set14, DIV2K).
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/super_resolution/edsr_x3c64b16_div2k_man.py'))
    with pytest.raises(FileNotFoundError, match="mmagic's DIV2K layout"):
        tool.check_data_roots(cfg)
    for key in ('train', 'val'):
        cfg[f'{key}_dataloader'].dataset.data_root = str(tmp_path)
    with pytest.raises(FileNotFoundError,
                       match=r"'data/Set5' of test_dataloader.*Set5 layout"):
        tool.check_data_roots(cfg)
    with pytest.raises(FileNotFoundError, match='x3/x4 configs start from '
                       'the x2'):
        tool.check_load_from(cfg)


def test_benchmark_local_measures_edsr():
    rows = load_tool('analysis_tools/benchmark_local.py').main([
        osp.join(ROOT, 'configs/super_resolution/photos/'
                 'edsr_x2c32b8_photos_bp.py'),
        '--batch-size', '2', '--input-size', '12', '12', '--ks', 'all',
        '--aux', 'man', 'man_noadapt', '--iters', '1', '--warmup', '0'])
    assert [(r['method'], r['K']) for r in rows] == [
        ('BP', '-'), ('MAN (SLM+bank)', 8), ('MAN w/o SLM+bank', 8)]
    bp, man, plain = (r['act_mem_mib'] for r in rows)
    assert 0 < plain < man < bp


def test_train_and_compare_reports_psnr_and_ssim(tmp_path, monkeypatch,
                                                 capsys):
    tool = load_tool('analysis_tools/train_and_compare.py')

    def fake_train(config, work_dir, cfg_options, threads=None, tag=''):
        run_dir = osp.join(work_dir, '20261129_000000', 'vis_data')
        os.makedirs(run_dir)
        rows = [dict(iter=1, loss=0.2, time=1.0, act_mem=25.0),
                dict(PSNR=28.5, SSIM=0.81, step=1)]
        with open(osp.join(run_dir, 'scalars.json'), 'w') as f:
            f.write('\n'.join(json.dumps(r) for r in rows) + '\n')

    monkeypatch.setattr('man_mm.analysis.runs.train', fake_train)
    out = tmp_path / 'summary.json'
    monkeypatch.setattr('sys.argv', [
        'train_and_compare.py', 'a_bp.py', 'b_man.py', '--work-dir',
        str(tmp_path), '--metric', 'PSNR', 'SSIM', '--out', str(out)])
    tool.main()
    rows = json.loads(out.read_text())
    assert [(r['config'], r['metric'], r['SSIM']) for r in rows] == [
        ('a_bp', 28.5, 0.81), ('b_man', 28.5, 0.81)]
    assert '| PSNR' in capsys.readouterr().out
