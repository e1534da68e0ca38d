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

``--test-config PLAIN_CONFIG`` also evaluates every run's last checkpoint,
stripped of aux nets, with ``tools/test.py PLAIN_CONFIG`` (the base
codebase's model, no man_mm wrapper): the ``test_*`` columns.
"""
import argparse
import json
import os
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor


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
        '--test-config',
        help='evaluate each run\'s last checkpoint, stripped of aux nets, '
        'with tools/test.py and this plain (BP) config')
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='runs trained at once; the CPU threads are shared between '
        'them (several one-thread runs use small CPUs better than one '
        'run on all threads)')
    return parser.parse_args()


def main():
    from man_mm.analysis import format_table
    from man_mm.analysis.runs import (evaluate, last_checkpoint,
                                      read_scalars, say, summarise, train)
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
        if args.test_config:
            say(f'[{i}/{len(args.configs)}] tools/test.py '
                f'{osp.basename(args.test_config)} on {name}')
            metrics = evaluate(args.test_config, last_checkpoint(work_dir),
                               osp.join(work_dir, 'test'), args.cfg_options,
                               threads)
            for metric in args.metric:
                row[f'test_{metric}'] = metrics.get(metric)
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
        *[(f'test_{m}', f'{m} (tools/test.py)', '{:.4g}')
          for m in args.metric if args.test_config],
        ('wall_s', 'wall (s)', '{:.0f}'),
    ]))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
