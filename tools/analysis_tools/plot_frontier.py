# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Plot the memory-time frontier from benchmark_local.py JSON files.

One panel per model: true peak memory (MiB, as a GPU would hold it) against
time per iteration relative to BP (the BP of the row's own run), one marker
per method and K. Rows of all JSON files of one model (same config and
batch) go into the same panel.

    python tools/analysis_tools/plot_frontier.py \\
        benchmarks/results/retinanet_r50_fpn_160e_coco_2x512_cpu*.json \\
        benchmarks/results/yolov3_r34_160e_coco_2x512_cpu*.json \\
        --out benchmarks/results/detection_frontier_2x512_cpu.png
"""
import argparse
import json
import os.path as osp
from collections import OrderedDict

STYLE = {  # method label prefix -> (marker, colour); first match wins
    'BP + with_cp': ('s', 'tab:gray'),
    'BP': ('*', 'black'),
    'MAN (SLM+bank), one step + cp': ('x', 'tab:olive'),
    'MAN (SLM+bank), one step': ('v', 'tab:orange'),
    'MAN (SLM+bank) + cp': ('D', 'tab:green'),
    'MAN (SLM+bank)': ('o', 'tab:blue'),
    'MAN, SLM width 0.5, one step': ('1', 'tab:cyan'),
    'MAN, SLM width 0.5 + cp': ('d', 'tab:brown'),
    'MAN, SLM width 0.5': ('h', 'tab:cyan'),
    'DGL': ('^', 'tab:red'),
}


def _style(method):
    for prefix, style in STYLE.items():
        if method.startswith(prefix):
            return style
    return ('P', 'tab:purple')


def load_panels(paths):
    """``{title: [rows]}``, merging files of the same config and batch."""
    panels = OrderedDict()
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        title = (f"{osp.basename(data['config']).replace('_bp.py', '')}\n"
                 f"{data['batch_size']}x{data['input_size'][0]}^2, "
                 f"{data['device']}")
        rows = panels.setdefault(title, [])
        seen = {(r['method'], str(r['K'])) for r in rows}
        rows += [r for r in data['rows'] if 'error' not in r and
                 (r['method'], str(r['K'])) not in seen]
    return panels


def plot(panels, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6),
                             squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels.items()):
        bp = next(r for r in rows if r['method'] == 'BP')
        labelled = set()
        for r in rows:
            marker, colour = _style(r['method'])
            # Each file's times are relative to the BP of its own run.
            x = r.get('time_vs_bp', r['time_s'] / bp['time_s'])
            name = r['method']
            if r.get('step_per_module'):
                name = name.replace(' + cp', ', step per module + cp') \
                    if name.endswith(' + cp') else name + ', step per module'
            label = name if name not in labelled else None
            labelled.add(name)
            ax.scatter(x, r['total_mib'], marker=marker, color=colour,
                       s=60, label=label, zorder=3)
            if r['K'] != '-':
                ax.annotate(f"K={r['K']}", (x, r['total_mib']),
                            textcoords='offset points', xytext=(4, 3),
                            fontsize=7)
        ax.axhline(bp['total_mib'], color='black', lw=0.8, ls='--')
        cp = next((r for r in rows if r['method'] == 'BP + with_cp'), None)
        if cp:
            ax.axhline(cp['total_mib'], color='tab:gray', lw=0.8, ls=':')
        ax.set_title(title, fontsize=9)
        ax.set_xlabel('time per iteration / BP')
        ax.set_ylabel('true peak memory (MiB)')
        ax.grid(alpha=0.3)
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc='lower center', ncol=min(len(labels), 4),
               fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out, dpi=110)
    print(f'wrote {out}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('jsons', nargs='+')
    parser.add_argument('--out', required=True, help='PNG to write')
    args = parser.parse_args(argv)
    plot(load_panels(args.jsons), args.out)


if __name__ == '__main__':
    main()
