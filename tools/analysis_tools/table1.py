# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""The paper's Table 1 on one data set: BP, MAN and four local baselines.

Every method trains ResNet-32 (K=16 for the local ones) from the same
data-set config for the same budget and seeds, one ``tools/train.py`` run
each (``configs/classification/resnet32_<DATASET>_<method>[_k16].py``).
The table, read back from the runs' own logs and from the built models:

- accuracy: mean +- sample standard deviation over the seeds (each seed's
  value is in the JSON);
- true peak and saved activation memory, time per iteration (the loop's
  meters, as in every table of this project);
- inference throughput of the stripped model. Local learning changes how a
  network is trained, not the network: after ``strip_aux.py`` every method
  is the same ResNet-32, so throughput is measured once, on that network;
- parameters of the aux nets (training only; none are kept for inference).

    python tools/analysis_tools/table1.py digits --seeds 3
    python tools/analysis_tools/table1.py cifar10 --budget 400 --jobs 2

It prints the table, the paper's numbers for reference, and writes
``WORK_DIR/table1_<DATASET>.json`` and ``.md`` (``--out-dir`` copies both).
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

# The configs next to these tools (a checkout, or man_mm/.mim).
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__))))

#: Method name -> (label, config suffix). The local ones are K=16.
METHODS = {
    'bp': ('BP', 'bp'),
    'man': ('MAN', 'man_k16'),
    'dgl': ('DGL', 'dgl_k16'),
    'infopro': ('InfoPro', 'infopro_k16'),
    'auglocal': ('AugLocal', 'auglocal_k16'),
    'predsim': ('PredSim', 'predsim_k16'),
}
#: Data set -> input shape of one image (for the throughput measurement).
DATASETS = {
    'digits': (3, 32, 32),
    'cifar10': (3, 32, 32),
    'svhn': (3, 32, 32),
    'stl10': (3, 96, 96),
}
#: The paper's Table 1 accuracies (%), ResNet-32 K=16.
PAPER = {
    'cifar10': dict(man=91.75, auglocal=92.48, infopro=87.07, dgl=85.92,
                    predsim=77.29),
    'stl10': dict(man=79.74, auglocal=79.69, infopro=70.72, dgl=72.86,
                  predsim=67.1),
    'svhn': dict(man=96.68, auglocal=96.80, infopro=94.03, dgl=94.95,
                 predsim=91.92),
}
METRIC = 'accuracy/top1'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dataset', help=f"one of {', '.join(DATASETS)}")
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        help=f"default: all ({', '.join(METHODS)})")
    parser.add_argument('--seeds', type=int, default=3,
                        help='seeds 0..N-1 per method (default 3)')
    parser.add_argument(
        '--budget', type=int, default=None,
        help="training epochs for every method (default: the configs' own)")
    parser.add_argument('--work-dir', default=None,
                        help='default work_dirs/table1/<DATASET>/<time>')
    parser.add_argument('--out-dir', default=None,
                        help='also copy the JSON and Markdown table here')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at once (one CPU thread each)')
    return parser.parse_args(argv)


def check_choices(dataset, methods):
    """Clear errors for names this tool does not know."""
    if dataset not in DATASETS:
        raise SystemExit(f'unknown data set {dataset!r}: choose from '
                         f"{', '.join(DATASETS)}.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(
            f'unknown method(s) {unknown}: registered methods are '
            f"{', '.join(METHODS)}. A new local method is an aux net "
            '(man_mm/models/aux_heads) plus a one-line config '
            'resnet32_<data set>_<method>_k16.py on the MAN config.')


def config_of(dataset, method):
    return osp.join(ROOT, 'configs', 'classification',
                    f'resnet32_{dataset}_{METHODS[method][1]}.py')


def model_facts(dataset):
    """Aux parameters per method and the stripped network's throughput."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope('mmpretrain')
    facts = {}
    for method in METHODS:
        cfg = Config.fromfile(config_of(dataset, method))
        model = MODELS.build(cfg.model)
        aux = getattr(model, 'aux_heads', None)
        facts[method] = sum(p.numel() for p in aux.parameters()) \
            if aux is not None else 0
    base = MODELS.build(Config.fromfile(config_of(dataset, 'bp')).model)
    return facts, images_per_second(base, DATASETS[dataset])


def images_per_second(model, shape, batch=64, iters=5):
    """Inference throughput of ``model`` (eval mode, no grad)."""
    import torch
    model.eval()
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        model(x, mode='tensor')  # warm-up
        start = time.perf_counter()
        for _ in range(iters):
            model(x, mode='tensor')
    return batch * iters / (time.perf_counter() - start)


def finished(run_dir):
    """The logged scalars of a run that reached its final validation, or
    None."""
    from man_mm.analysis.runs import read_scalars
    try:
        rows = read_scalars(run_dir)
    except (FileNotFoundError, OSError):
        return None
    return rows if any(METRIC in r for r in rows) else None


def run_all(args, work_dir):
    """Train every (method, seed); returns {method: [row per seed]}.

    Runs already finished in ``work_dir`` are reused; a failed run (e.g. a
    non-finite loss) becomes a row with ``error`` instead of stopping the
    table."""
    from man_mm.analysis.runs import read_scalars, say, summarise, train
    options = []
    if args.budget:
        options = [f'train_cfg.max_epochs={args.budget}',
                   f'train_cfg.val_interval={args.budget}',
                   f'param_scheduler.1.T_max={args.budget}']
    runs = [(m, s) for s in range(args.seeds) for m in args.methods]
    jobs = max(1, min(args.jobs, len(runs)))

    def run_one(i, method, seed):
        name = f'{method}_seed{seed}'
        run_dir = osp.join(work_dir, name)
        done = finished(run_dir)
        if done is not None:
            # Re-running the command completes a table: finished runs (and
            # their checkpoints) are reused, never trained over.
            say(f'[{i}/{len(runs)}] {METHODS[method][0]}, seed {seed}: '
                f'reusing the finished run in {run_dir}')
            row = summarise(name, done, METRIC)
            row.update(method=method, seed=seed)
            return row
        say(f'[{i}/{len(runs)}] {METHODS[method][0]}, seed {seed} -> '
            f'{run_dir}')
        start = time.time()
        try:
            train(config_of(args.dataset, method), run_dir,
                  options + [f'randomness.seed={seed}'], threads=1,
                  tag=f'[{i}] ' if jobs > 1 else '')
        except RuntimeError as err:
            # A method that diverges is a result; the table says so.
            return dict(config=name, method=method, seed=seed, metric=None,
                        error=f'{err}; see the log in {run_dir}')
        row = summarise(name, read_scalars(run_dir), METRIC)
        row.update(method=method, seed=seed, wall_s=time.time() - start)
        return row

    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(run_one, i, m, s)
                   for i, (m, s) in enumerate(runs, 1)]
        rows = [f.result() for f in futures]
    out = {m: [] for m in args.methods}
    for row in rows:
        out[row['method']].append(row)
    return out


def summarise_methods(runs, aux_params, throughput, dataset):
    """One table row per method (mean over seeds)."""
    table = []
    bp_peak = None
    for method, rows in runs.items():
        acc = [r['metric'] for r in rows if r['metric'] is not None]

        def mean(key):
            vals = [r[key] for r in rows if r.get(key) is not None]
            return sum(vals) / len(vals) if vals else None

        failed = sum(1 for r in rows if r.get('error'))
        row = dict(
            method=method, label=METHODS[method][0], failed_runs=failed,
            acc_mean=statistics.mean(acc) if acc else None,
            acc_std=statistics.stdev(acc) if len(acc) > 1 else 0.0,
            acc_per_seed=acc, mem_peak_mib=mean('mem_peak_mib'),
            act_mem_mib=mean('act_mem_mib'), time_s=mean('time_s'),
            images_per_s=throughput, aux_params_m=aux_params[method] / 1e6,
            paper_acc=PAPER.get(dataset, {}).get(method))
        if method == 'bp':
            bp_peak = row['mem_peak_mib']
        table.append(row)
    for row in table:
        if bp_peak and row['mem_peak_mib']:
            row['mem_vs_bp'] = row['mem_peak_mib'] / bp_peak
    return table


def markdown(table, dataset, seeds):
    ref = 'CIFAR-10' if dataset not in PAPER else dataset
    lines = [
        f'| method | accuracy (%), {seeds} seeds | true peak (MiB) | vs BP '
        '| saved act. (MiB) | s/iter | inference (img/s) | aux params (M) '
        f'| paper, {ref} (%) |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    paper = PAPER.get(dataset, PAPER['cifar10'])

    def fmt(v, f):
        return '-' if v is None else f.format(v)

    for r in table:
        acc = f"{fmt(r['acc_mean'], '{:.2f}')} ± {r['acc_std']:.2f}"
        if r.get('failed_runs'):
            acc += f" ({r['failed_runs']} of {seeds} failed)"
        lines.append(
            f"| {r['label']} | {acc} | {fmt(r['mem_peak_mib'], '{:.1f}')} | "
            f"{fmt(r.get('mem_vs_bp'), '{:.1%}')} | "
            f"{fmt(r['act_mem_mib'], '{:.1f}')} | "
            f"{fmt(r['time_s'], '{:.3f}')} | {r['images_per_s']:.0f} | "
            f"{r['aux_params_m']:.3f} | "
            f"{fmt(paper.get(r['method']), '{:.2f}')} |")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    check_choices(args.dataset, args.methods)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'table1', args.dataset, time.strftime('%Y%m%d_%H%M%S'))
    os.makedirs(work_dir, exist_ok=True)
    aux_params, throughput = model_facts(args.dataset)
    runs = run_all(args, work_dir)
    table = summarise_methods(runs, aux_params, throughput, args.dataset)
    md = markdown(table, args.dataset, args.seeds)
    print()
    print(md)
    print('\nInference throughput is of the stripped network, which is the '
          'same ResNet-32 for every method (measured once).')
    stem = osp.join(work_dir, f'table1_{args.dataset}')
    with open(stem + '.json', 'w') as f:
        json.dump(dict(dataset=args.dataset, seeds=args.seeds,
                       budget_epochs=args.budget, rows=table,
                       runs=runs), f, indent=2)
    with open(stem + '.md', 'w') as f:
        f.write(md + '\n')
    print(f'wrote {stem}.json and .md')
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        for ext in ('.json', '.md'):
            shutil.copy(stem + ext, args.out_dir)
        print(f'copied to {args.out_dir}')


if __name__ == '__main__':
    main()
