# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Train several configs and compare them in one table.

Each config is trained by ``tools/train.py`` into ``WORK_DIR/<config name>``;
the table is read back from the runs' own mmengine logs: peak activation
memory (``act_mem``, logged by man_mm's training loops), mean time per
iteration, and the final validation metric. ``--jobs N`` trains N configs at
once, each on its share of the CPU threads.

    python tools/analysis_tools/train_and_compare.py \
        configs/classification/resnet32_digits_bp.py \
        configs/classification/resnet32_digits_man_k16.py \
        --work-dir work_dirs/demo --metric accuracy/top1
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument(
        '--metric', nargs='+', default=['accuracy/top1'],
        help='validation metric(s) to report, e.g. PSNR SSIM (the first '
        'is the "metric" of the JSON rows)')
    parser.add_argument('--out', help='JSON file for the table')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='passed to every tools/train.py run')
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='runs trained at once; the CPU threads are shared between '
        'them (several one-thread runs use small CPUs better than one '
        'run on all threads)')
    return parser.parse_args()


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
    train = [r for r in rows if 'loss' in r]
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
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
           '--work-dir', work_dir]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
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


def main():
    from man_mm.utils import format_table
    args = parse_args()
    jobs = max(1, min(args.jobs, len(args.configs)))
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None

    def run_one(i, config):
        name = osp.splitext(osp.basename(config))[0]
        work_dir = osp.join(args.work_dir, name)
        say(f'[{i}/{len(args.configs)}] training {name} -> {work_dir}')
        start = time.time()
        train(config, work_dir, args.cfg_options, threads,
              tag=f'[{i}] ' if jobs > 1 else '')
        scalars = read_scalars(work_dir)
        row = summarise(name, scalars, args.metric[0])
        for metric in args.metric[1:]:
            row[metric] = summarise(name, scalars, metric)['metric']
        row['wall_s'] = time.time() - start
        return row

    with ThreadPoolExecutor(jobs) as pool:  # rows stay in config order
        futures = [pool.submit(run_one, i, c)
                   for i, c in enumerate(args.configs, 1)]
        try:
            results = [f.result() for f in futures]
        except RuntimeError as err:
            raise SystemExit(str(err))
    ref = results[0]
    for row in results:
        if ref['mem_peak_mib'] and row['mem_peak_mib']:
            row['mem_vs_first'] = row['mem_peak_mib'] / ref['mem_peak_mib']
    print()
    print(format_table(results, [
        ('config', 'config', '{}'),
        ('mem_peak_mib', 'true peak (MiB)', '{:.1f}'),
        ('mem_vs_first', f'vs {ref["config"]}', '{:.1%}'),
        ('act_mem_mib', 'saved act. (MiB)', '{:.1f}'),
        ('time_s', 's/iter', '{:.3f}'),
        ('iters', 'iters', '{}'),
        ('metric', args.metric[0], '{:.4g}'),
        *[(m, m, '{:.4g}') for m in args.metric[1:]],
        ('wall_s', 'wall (s)', '{:.0f}'),
    ]))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
