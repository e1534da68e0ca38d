"""Training runs driven from Python, as the comparison tools need them:
``tools/train.py`` in a subprocess with a live progress bar, and the
figures read back from mmengine's own ``scalars.json``."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading

from man_mm.utils import tools_dir


def read_scalars(work_dir):
    """Rows of the newest ``vis_data/scalars.json`` under ``work_dir``."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data',
                                         'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no mmengine scalars.json in {work_dir}')
    path = osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarise(name, rows, metric):
    # Training rows carry losses; mmagic's GAN models log only the named
    # ones (loss_pix, loss_d_real, ...), without a total 'loss'.
    train = [r for r in rows if any(k.startswith('loss') for k in r)]
    vals = [r for r in rows if metric in r]
    times = [r['time'] for r in train if 'time' in r]
    act = [r['act_mem'] for r in train if 'act_mem' in r]
    total = [r['mem_peak'] for r in train if 'mem_peak' in r]
    return dict(
        config=name,
        mem_peak_mib=max(total) if total else None,
        act_mem_mib=max(act) if act else None,
        time_s=sum(times) / len(times) if times else None,
        metric=vals[-1][metric] if vals else None,
        iters=train[-1].get('iter') if train else None)


def progress(line: str, width: int = 24) -> str:
    """A bar for mmengine's 'Iter(train) [ 25/600]' or 'Epoch(train)
    [2][10/23]' lines, followed by the line's metrics."""
    text = line.split(' - mmengine - INFO - ')[-1].strip()
    match = re.search(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]', text) or \
        re.search(r'Epoch\(train\)\s*\[(\d+)\]', text)
    if match is None:
        return text
    if match.lastindex == 2:
        done, total = int(match.group(1)), int(match.group(2))
    else:
        done, total = int(match.group(1)), None
    metrics = text[match.end():].strip()
    if total:
        filled = width * done // total
        return (f"[{'#' * filled}{'.' * (width - filled)}] "
                f'{done}/{total}  {metrics}')
    return text


_SAY = threading.Lock()


def say(text: str) -> None:
    """Print one whole line, even when several runs report at once."""
    with _SAY:
        sys.stdout.write(text + '\n')
        sys.stdout.flush()


def train(config, work_dir, cfg_options, threads=None, tag=''):
    """Run ``tools/train.py`` on ``config``, printing a progress bar."""
    cmd = [sys.executable, osp.join(tools_dir(), 'train.py'), config,
           '--work-dir', work_dir]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    env = dict(os.environ)
    env['PYTHONUNBUFFERED'] = '1'  # live progress through the pipe
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    tail = []
    for line in proc.stdout:
        tail = (tail + [line])[-40:]
        # mmengine's own log lines drive a progress bar.
        if '(train)' in line or '(val)' in line or 'local learning' in line:
            say(f'    {tag}{progress(line)}')
    if proc.wait() != 0:
        sys.stderr.write(''.join(tail))
        raise RuntimeError(f'training {config} failed')


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint mmengine's ``CheckpointHook`` saved last in
    ``work_dir`` (its ``last_checkpoint`` file)."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        raise FileNotFoundError(f'no checkpoint saved in {work_dir}')
    with open(path) as f:
        return f.read().strip()


def evaluate(config, checkpoint, work_dir, cfg_options=(), threads=None):
    """Run ``tools/test.py config checkpoint`` and return its metrics.

    A local-learning checkpoint is first stripped of its aux nets
    (``tools/model_converters/strip_aux.py``) into ``work_dir``, so that a
    plain base-model ``config`` evaluates it as its own codebase would.

    Returns:
        dict: The metrics mmengine's test loop wrote (``{name: value}``).
    """
    import torch
    os.makedirs(work_dir, exist_ok=True)
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    if any(k.startswith('model.') for k in state.get('state_dict', {})):
        plain = osp.join(work_dir, 'stripped.pth')
        subprocess.run([
            sys.executable,
            osp.join(tools_dir(), 'model_converters', 'strip_aux.py'),
            checkpoint, plain, '--force'], check=True,
            stdout=subprocess.DEVNULL)
        checkpoint = plain
    del state
    cmd = [sys.executable, osp.join(tools_dir(), 'test.py'), config,
           checkpoint, '--work-dir', work_dir]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise RuntimeError(f'testing {checkpoint} with {config} failed')
    # mmengine writes the test metrics to <work_dir>/<timestamp>/<timestamp>.json
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, f'{d}.json')))
    if not runs:
        raise FileNotFoundError(f'no test metrics in {work_dir}')
    with open(osp.join(work_dir, runs[-1], f'{runs[-1]}.json')) as f:
        return json.load(f)
