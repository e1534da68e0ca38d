"""tools/train.py and tools/test.py launched by torchrun: 2 CPU processes.

Without CUDA, tools/train.py initialises gloo itself (mmengine's init_dist
needs CUDA) and wraps the LocalLearningModel in
LocalDistributedDataParallel without a config edit; the run trains,
evaluates and saves a checkpoint that tools/test.py evaluates, again on 2
processes.
"""
import re
import socket
import subprocess
import textwrap

import pytest
import torch

from tests.test_tools.test_train_e2e import (ENV, PY, ROOT, configs,  # noqa
                                             digits, write_man_config)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def torchrun(script, *args):
    proc = subprocess.run(
        [PY, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={_free_port()}', f'tools/{script}', *args,
         '--launcher', 'pytorch'],
        cwd=ROOT, env=dict(ENV, CUDA_VISIBLE_DEVICES=''), text=True,
        capture_output=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


@pytest.fixture(scope='module')
def dist_run(configs, tmp_path_factory):  # noqa: F811
    d = tmp_path_factory.mktemp('dist_configs')
    (d / 'plain.py').write_text((configs / 'plain.py').read_text())
    write_man_config(d, max_iters=2, num_modules=4)
    # Evaluate at the end of training; meter every iteration.
    with open(d / 'man.py', 'a') as f:
        f.write(textwrap.dedent("""\
            train_cfg = dict(_delete_=True,
                             type='man_mm.LocalIterBasedTrainLoop',
                             max_iters=2, val_interval=2, meter_interval=1)
            default_hooks = dict(checkpoint=dict(interval=2))
            """))
    work = tmp_path_factory.mktemp('dist_work')
    out = torchrun('train.py', str(d / 'man.py'), '--work-dir', str(work))
    return d, work, out


def test_cpu_gloo_local_ddp_trains_and_evaluates(dist_run):
    _, work, out = dist_run
    assert 'torch.distributed initialised on CPU with gloo' in out
    assert 'man_mm.LocalDistributedDataParallel' in out
    assert 'memory saving is lost' not in out
    assert re.search(r'accuracy/top1: [\d.]+', out), out[-3000:]
    # Both ranks metered the same activation memory.
    per_rank = re.findall(r'per rank act_mem \(MiB\) ([\d.]+), ([\d.]+)', out)
    assert per_rank and all(a == b for a, b in per_rank)
    state = torch.load(work / 'iter_2.pth', map_location='cpu',
                       weights_only=False)
    assert any(k.startswith('aux_heads.') for k in state['state_dict'])


def test_dist_test_evaluates_the_checkpoint(dist_run, tmp_path):
    d, work, _ = dist_run
    metrics = tmp_path / 'metrics.json'
    torchrun('test.py', str(d / 'man.py'), str(work / 'iter_2.pth'),
             '--work-dir', str(tmp_path), '--out', str(metrics),
             '--out-item', 'metrics')
    assert 'accuracy/top1' in metrics.read_text()
