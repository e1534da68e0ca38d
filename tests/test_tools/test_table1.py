"""The paper's Table 1: baseline configs and the comparison tool."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from man_mm.testing import assert_gradient_isolated
from man_mm.utils import TotalMemoryMeter
from tests.helpers import fake_batch, load_tool, sgd_wrapper

table1 = load_tool('analysis_tools/table1.py')
BASELINES = ['dgl', 'infopro', 'auglocal', 'predsim']


def _build(dataset, method):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(table1.config_of(dataset, method))
    return MODELS.build(cfg.model)


def _true_peak(model, batch):
    optim = sgd_wrapper(model, lr=0.0)
    model.train_step(fake_batch(2, seed=9), optim)  # creates momentum
    with TotalMemoryMeter.for_training(model, optim.optimizer) as meter:
        model.train_step(batch, optim)
    return meter.peak_bytes


@pytest.mark.parametrize('method', BASELINES)
def test_baseline_config_trains_isolated_and_below_bp(method):
    torch.manual_seed(0)
    model = _build('digits', method)
    # AugLocal's "K=16" trains 16 - aux depth (2) modules, as its code.
    assert model.num_modules == (14 if method == 'auglocal' else 16)
    assert_gradient_isolated(model, fake_batch(4))
    batch = fake_batch(64)
    # Two iterations, as the Table 1 runs do them (one meters the peak).
    peak = _true_peak(model, batch)
    bp_peak = _true_peak(_build('digits', 'bp'), batch)
    assert peak < bp_peak, f'{method}: {peak} >= BP {bp_peak} bytes'


@pytest.mark.parametrize('dataset', ['cifar10', 'svhn', 'stl10', 'digits'])
def test_every_dataset_has_one_line_baseline_configs(dataset):
    for method in BASELINES:
        path = table1.config_of(dataset, method)
        assert osp.isfile(path), path
        cfg = Config.fromfile(path)
        assert cfg.model.aux.type.lower().startswith(f'man_mm.{method}')
        # Inherited, not copied: the file only names its aux net (and, for
        # AugLocal, the split its code uses).
        with open(path) as f:
            code = [ln for ln in f if ln.strip() and not ln.startswith('#')]
        assert len(code) == (4 if method == 'auglocal' else 2), code
        assert code[0].startswith('_base_ = ') and 'man_k16' in code[0]


def test_unknown_method_lists_the_registered_ones():
    with pytest.raises(SystemExit, match='registered methods are bp, man, '
                                         'dgl, infopro, auglocal, predsim'):
        table1.check_choices('digits', ['bp', 'backprop_free'])
    with pytest.raises(SystemExit, match='choose from digits, cifar10'):
        table1.check_choices('imagenet', ['bp'])


def test_unknown_aux_type_lists_the_registered_ones():
    from man_mm.models import LocalLearningModel
    from tests.helpers import cifar_classifier
    with pytest.raises(KeyError, match='man_mm.AugLocalClsAux.*'
                                       'man_mm.PredSimClsAux'):
        LocalLearningModel(cifar_classifier(), aux=dict(type='FooAux'))


def test_infopro_and_auglocal_follow_their_papers_schedules():
    model = _build('digits', 'infopro')
    first, last = model.aux_heads[0], model.aux_heads[-1]
    assert (first.recon_weight, first.cls_weight) == (5.0, 0.05)
    assert (last.recon_weight, last.cls_weight) == pytest.approx((0.2, 0.5))
    # AugLocal's pyramid shrinks the aux nets with depth.
    depths = [a.depth for a in _build('digits', 'auglocal').aux_heads]
    assert depths[0] >= depths[-1] and depths == sorted(depths, reverse=True)


def test_markdown_table_has_every_column():
    rows = table1.summarise_methods(
        {'bp': [dict(metric=90.0, mem_peak_mib=10.0, act_mem_mib=8.0,
                     time_s=0.1), dict(metric=92.0, mem_peak_mib=10.0,
                                       act_mem_mib=8.0, time_s=0.1)],
         'man': [dict(metric=91.0, mem_peak_mib=4.0, act_mem_mib=3.0,
                      time_s=0.2)] * 2},
        {'bp': 0, 'man': 1_000_000}, 1234.0, 'digits')
    assert rows[0]['acc_mean'] == 91.0 and rows[0]['acc_std'] > 0
    assert rows[1]['mem_vs_bp'] == pytest.approx(0.4)
    md = table1.markdown(rows, 'digits', 2)
    assert '| MAN | 91.00 ± 0.00 | 4.0 | 40.0% |' in md
    assert '91.75' in md  # the paper's CIFAR-10 MAN figure for reference


def test_failed_runs_are_reported_and_finished_runs_reused(
        tmp_path, monkeypatch):
    import json
    from man_mm.analysis import runs as tac
    # A finished run (its final validation logged) is reused as it is.
    done = tmp_path / 'bp_seed0' / '20260101_000000' / 'vis_data'
    done.mkdir(parents=True)
    (done / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in [
        dict(iter=1, loss=2.0, time=0.5, act_mem=8.0, mem_peak=10.0),
        {'accuracy/top1': 93.0, 'step': 6}]))
    trained = []

    def fake_train(config, run_dir, options, threads=None, tag=''):
        trained.append(run_dir)
        raise RuntimeError(f'training {config} failed')

    monkeypatch.setattr(tac, 'train', fake_train)
    args = table1.parse_args(['digits', '--methods', 'bp', 'infopro',
                              '--seeds', '1'])
    runs = table1.run_all(args, str(tmp_path))
    assert runs['bp'][0]['metric'] == 93.0
    assert trained == [str(tmp_path / 'infopro_seed0')]
    assert 'failed' in runs['infopro'][0]['error']
    rows = table1.summarise_methods(runs, {'bp': 0, 'infopro': 1}, 1.0,
                                    'digits')
    assert '(1 of 1 failed)' in table1.markdown(rows, 'digits', 1)
