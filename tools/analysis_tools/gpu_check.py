# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""The GPU check: measure on one CUDA device what the docs claim on CPU.

For each case (the paper's settings, real input sizes, random data): BP,
BP + ``with_cp``, default MAN and the planner's best MAN setting, each with
AMP off and on, measured by the CUDA allocator
(``torch.cuda.max_memory_allocated`` and ``max_memory_reserved`` over the
timed iterations, after warm-up) and CUDA-synchronised seconds per
iteration. Then two runs of the real tools: ``tools/train.py --amp`` on a
MAN detection config for 30 iterations, and ``tools/dist_train.sh`` (the
local DDP wrapper on NCCL; 2 processes when 2 GPUs are visible).

    python tools/analysis_tools/gpu_check.py                # on a GPU
    python tools/analysis_tools/gpu_check.py --dry-run      # CPU, tiny

Writes ``gpu_check.json`` and ``gpu_check.md`` under ``--out-dir``
(default ``benchmarks/results/gpu``; ``--dry-run``: ``work_dirs/gpu_check``)
and prints the table. ``--dry-run`` runs every code path on the CPU with
tiny inputs and one iteration, except the CUDA calls (AMP uses bfloat16
autocast there), so CI checks the script before a GPU ever runs it.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__))))

#: name -> (config, batch, input side); the paper's settings.
CASES = {
    'retinanet_r50_8x512': (
        'configs/detection/retinanet/retinanet_r50_fpn_160e_coco_bp.py', 8,
        512),
    'retinanet_r50_2x512': (
        'configs/detection/retinanet/retinanet_r50_fpn_160e_coco_bp.py', 2,
        512),
    'yolov3_r34_32x512': (
        'configs/detection/yolo/yolov3_r34_160e_coco_bp.py', 32, 512),
    'edsr_x2_16x48': (
        'configs/super_resolution/edsr_x2c64b16_div2k_bp.py', 16, 48),
    'resnet32_b1024': (
        'configs/classification/resnet32_cifar10_bp.py', 1024, 32),
}
#: --dry-run sizes: (batch, input side). Detection takes 2 x 96 px: at
#: 1 x 64 (deepest maps 2x2, one image) MAN's gradients under bf16
#: autocast reached 1e27 and turned weights NaN for 2 of 10 random inits
#: of RetinaNet-R50; at 2 x 96, for none of 14.
DRY = {'det': (2, 96), 'sr': (2, 12), 'cls': (4, 32)}
#: The MAN detection config of the tools' runs (data written locally).
TRAIN_CONFIG = 'configs/detection/shapes/retinanet_r18_fpn_shapes_man.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dry-run', action='store_true',
                        help='CPU, tiny inputs, one iteration')
    parser.add_argument(
        '--cases', nargs='+', default=None, choices=list(CASES),
        help='default: all (a dry run skips retinanet_r50_8x512, whose '
        'code path retinanet_r50_2x512 runs)')
    parser.add_argument('--iters', type=int, default=None,
                        help='timed iterations (default 3; dry run 1)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='warm-up iterations (default 2; dry run 1)')
    parser.add_argument('--no-amp', action='store_true',
                        help='skip the AMP rows')
    parser.add_argument('--skip-tools', action='store_true',
                        help='skip the train.py and dist_train.sh runs')
    parser.add_argument('--out-dir', default=None)
    return parser.parse_args(argv)


def device_info(dry_run: bool) -> dict:
    info = dict(torch=torch.__version__, python=platform.python_version(),
                dry_run=dry_run)
    if torch.cuda.is_available():
        info.update(device=torch.cuda.get_device_name(0),
                    cuda=torch.version.cuda,
                    gpus=torch.cuda.device_count(),
                    memory_gib=round(torch.cuda.get_device_properties(0)
                                     .total_memory / 2**30, 1))
    else:
        info.update(device=platform.processor() or 'cpu', gpus=0)
    return info


def mmcv_has_cuda_ops() -> bool:
    """Whether mmcv's compiled ops run on CUDA tensors (a CPU-ops build,
    the quick one on a borrowed machine, has none)."""
    if not torch.cuda.is_available():
        return False
    try:
        from mmcv.ops import sigmoid_focal_loss
        x = torch.zeros(2, 3, device='cuda')
        sigmoid_focal_loss(x, torch.zeros(2, dtype=torch.long,
                                          device='cuda'))
        return True
    except Exception:  # noqa: BLE001  (no kernel: RuntimeError/ImportError)
        return False


def use_torch_focal_loss(base: dict) -> None:
    """Swap mmdet's FocalLoss (mmcv's CUDA op on GPU tensors) for
    :class:`man_mm.TorchFocalLoss` (the same loss in plain torch)."""
    for head in (base.get('bbox_head'), ):
        loss = head and head.get('loss_cls')
        if loss and loss.get('type', '').split('.')[-1] == 'FocalLoss':
            loss['type'] = 'man_mm.TorchFocalLoss'


def amp_wrapper(model, device: str):
    """mmengine's ``AmpOptimWrapper`` (fp16, dynamic loss scale) on CUDA.

    mmengine refuses it without an accelerator, so a dry run stands in an
    ``OptimWrapper`` whose ``optim_context`` autocasts to bfloat16 on the
    CPU: the local steps still run every module under autocast.
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    if device != 'cpu':
        return AmpOptimWrapper(optimizer=optimizer, loss_scale='dynamic')

    class CpuAutocastWrapper(OptimWrapper):

        @contextmanager
        def optim_context(self, model):
            with super().optim_context(model), torch.autocast(
                    'cpu', dtype=torch.bfloat16):
                yield

    return CpuAutocastWrapper(optimizer=optimizer)


def planner_best(base, task, batches, device, bp_peak_mib):
    """The planner's pick: the fastest MAN setting it predicts below BP's
    measured peak (else its lowest peak), profiled on ``device``."""
    from man_mm.analysis import build_optim_wrapper
    from man_mm.analysis.planner import plan, profile_units
    from man_mm.models import LocalLearningModel

    def build_local(num_modules=None, **kwargs):
        return LocalLearningModel(copy.deepcopy(base),
                                  num_modules=num_modules,
                                  **kwargs).to(device)

    profile = profile_units(build_local,
                            lambda m: build_optim_wrapper(Config(), m,
                                                          'sgd'),
                            batches, batches, True)
    rows = [r for r in plan(profile, bp_peak_mib) if r['num_modules'] > 1]
    fitting = [r for r in rows if r['fits']]
    best = fitting[0] if fitting else min(rows,
                                          key=lambda r: r['total_mib'])
    return dict(num_modules=best['num_modules'], with_cp=best['with_cp'],
                step_per_module=True,
                predicted_mib=round(best['total_mib'], 1),
                predicted_fits=best['fits'])


def measure_case(name, args, device, torch_focal):
    """Every variant of one case; one row per (variant, AMP)."""
    from man_mm.analysis import (accepts_with_cp, base_model_cfg,
                                 make_batches, measure_train_step, task_of,
                                 with_cp)
    from man_mm.models import LocalLearningModel
    config, batch, side = CASES[name]
    cfg = Config.fromfile(osp.join(ROOT, config))
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    base = base_model_cfg(cfg)
    task = task_of(base)
    if args.dry_run:
        batch, side = DRY[task]
    if torch_focal:
        use_torch_focal_loss(base)
    batches = make_batches(task, base, (side, side), batch)
    iters = args.iters or (1 if args.dry_run else 3)
    warmup = args.warmup if args.warmup is not None else \
        (1 if args.dry_run else 2)

    variants = [('BP', lambda: _build(base)),
                ('BP + with_cp', (lambda: _build(with_cp(base)))
                 if 'backbone' in base and accepts_with_cp(
                     base['backbone']['type']) else None),
                ('MAN default', lambda: LocalLearningModel(
                    copy.deepcopy(base)))]
    rows, bp_peak = [], None
    amps = [False] if args.no_amp else [False, True]

    def run(label, build, amp, extra=None):
        row = dict(case=name, batch=batch, input=side, variant=label,
                   amp=amp, **(extra or {}))
        if build is None:
            row['note'] = 'backbone has no with_cp switch'
            return row
        try:
            torch.manual_seed(0)  # the same init for every row and run
            model = build().to(device)
            optim = amp_wrapper(model, device) if amp else None
            out = measure_train_step(model, batches, iters=iters,
                                     warmup=warmup, device=device,
                                     optim_wrapper=optim,
                                     meters=device == 'cpu')
            row.update(
                k=getattr(model, 'num_modules', None),
                peak_mib=out['cuda_peak_mib'] or out['total_mib'],
                reserved_mib=out['cuda_reserved_mib'],
                s_per_iter=out['time_s'],
                images_per_s=batch / out['time_s'])
            del model, optim
        except Exception as e:  # noqa: BLE001  (one failed row, not all)
            row['error'] = f'{type(e).__name__}: {e}'[:300]
            traceback.print_exc()
        if device != 'cpu':
            torch.cuda.empty_cache()
        return row

    for label, build in variants:
        for amp in amps:
            rows.append(run(label, build, amp))
            print(_line(rows[-1]), flush=True)
            if label == 'BP' and not amp:
                bp_peak = rows[-1].get('peak_mib')
    try:
        best = planner_best(base, task, batches, device, bp_peak)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        rows.append(dict(case=name, variant='MAN planner',
                         error=f'planner: {type(e).__name__}: {e}'[:300]))
        return rows
    label = f"MAN planner (K={best['num_modules']}" + \
        (', cp' if best['with_cp'] else '') + ')'
    for amp in amps:
        rows.append(run(label, lambda: LocalLearningModel(
            copy.deepcopy(base), num_modules=best['num_modules'],
            with_cp=best['with_cp'], step_per_module=None if amp else True),
            amp, dict(planned=best)))
        print(_line(rows[-1]), flush=True)
    return rows


def _build(cfg):
    from mmengine.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg))


def _line(row):
    if 'error' in row:
        return f"  {row['case']:<22} {row['variant']:<26} error: " \
            f"{row['error']}"
    if 'peak_mib' not in row:
        return f"  {row['case']:<22} {row['variant']:<26} " \
            f"{row.get('note', '')}"
    return (f"  {row['case']:<22} {row['variant']:<26} "
            f"amp={str(row['amp']):<5} peak {row['peak_mib']:9.1f} MiB  "
            f"{row['s_per_iter']:.3f} s/iter")


def run_tool(cmd, env, timeout):
    """A tools/ script as a user runs it; its log's last figures."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)
    log = proc.stdout + proc.stderr
    row = dict(command=' '.join(osp.relpath(c, ROOT) if c.startswith(ROOT)
                                else c for c in cmd),
               returncode=proc.returncode,
               wall_s=round(time.perf_counter() - start, 1))
    for key in ('mem_peak', 'mem_reserved', 'time', 'loss'):
        found = re.findall(rf'\b{key}: ([0-9.]+)', log)
        if found:
            row[key] = float(found[-1])
    if proc.returncode != 0:
        row['error'] = log[-2000:]
    return row


def tool_runs(args, out_dir, torch_focal):
    """``tools/train.py --amp`` for 30 iterations, and the local DDP
    wrapper through ``tools/dist_train.sh`` (NCCL on GPUs, gloo on CPU)."""
    from man_mm.utils import tools_dir
    iters = 2 if args.dry_run else 30
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    opts = [f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters + 1}',
            f'default_hooks.checkpoint.interval={iters}',
            'default_hooks.logger.interval=1']
    if torch_focal:
        opts.append('model.model.bbox_head.loss_cls.type='
                    'man_mm.TorchFocalLoss')
    if args.dry_run:  # the CPU and tiny images of the dry run
        opts += ['train_dataloader.batch_size=2',
                 'train_dataloader.num_workers=0',
                 'train_dataloader.persistent_workers=False']
    train = [sys.executable, osp.join(tools_dir(), 'train.py'),
             osp.join(ROOT, TRAIN_CONFIG), '--work-dir',
             osp.join(out_dir, 'train_amp'), '--cfg-options', *opts]
    if not args.dry_run:
        train.insert(4, '--amp')  # AMP needs CUDA (fp16 + loss scale)
    rows = [dict(run='tools/train.py' + (' --amp' if not args.dry_run
                                         else ''),
                 **run_tool(train, env, 600))]
    gpus = torch.cuda.device_count() if not args.dry_run else 1
    procs = 2 if gpus >= 2 else 1
    dist = ['bash', osp.join(tools_dir(), 'dist_train.sh'),
            osp.join(ROOT, TRAIN_CONFIG), str(procs), '--work-dir',
            osp.join(out_dir, f'dist_{procs}proc'), '--cfg-options', *opts]
    env_dist = dict(env, PORT=str(29500 + os.getpid() % 1000))
    rows.append(dict(run=f'tools/dist_train.sh ({procs} process'
                     f"{'es' if procs > 1 else ''})",
                     **run_tool(dist, env_dist, 600)))
    for row in rows:
        state = 'ok' if row['returncode'] == 0 else 'FAILED'
        print(f"  {row['run']:<34} {state}  mem_peak "
              f"{row.get('mem_peak', '-')}  {row['wall_s']} s", flush=True)
    return rows


def markdown(result) -> str:
    info = result['device']
    lines = [
        f"GPU check on {info['device']} (torch {info['torch']}"
        + (f", CUDA {info.get('cuda')}" if info.get('cuda') else '')
        + (', DRY RUN on CPU: not GPU figures' if info['dry_run'] else '')
        + ')', '',
        '| case | setting | AMP | K | peak allocated (MiB) | reserved '
        '(MiB) | vs BP | s/iter | images/s |',
        '|---|---|---|---|---|---|---|---|---|']
    bp = {(r['case'], r['amp']): r.get('peak_mib')
          for r in result['rows'] if r['variant'] == 'BP'}
    for r in result['rows']:
        if 'peak_mib' not in r:
            lines.append(f"| {r['case']} | {r['variant']} | "
                         f"{'on' if r.get('amp') else 'off'} | - | "
                         f"{r.get('error') or r.get('note', '')} | | | | |")
            continue
        ref = bp.get((r['case'], r['amp']))
        ratio = f"{100 * r['peak_mib'] / ref:.1f}%" if ref else '-'
        reserved = '-' if r.get('reserved_mib') is None else \
            f"{r['reserved_mib']:.1f}"
        lines.append(
            f"| {r['case']} | {r['variant']} | "
            f"{'on' if r['amp'] else 'off'} | {r.get('k') or '-'} | "
            f"{r['peak_mib']:.1f} | {reserved} | {ratio} | "
            f"{r['s_per_iter']:.3f} | {r['images_per_s']:.1f} |")
    if result.get('tools'):
        lines += ['', '| run | status | mem_peak (MiB) | mem_reserved '
                  '(MiB) | wall (s) |', '|---|---|---|---|---|']
        for t in result['tools']:
            lines.append(
                f"| {t['run']} | {'ok' if t['returncode'] == 0 else 'failed'}"
                f" | {t.get('mem_peak', '-')} | {t.get('mem_reserved', '-')}"
                f" | {t['wall_s']} |")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit('gpu_check: no CUDA device visible. Run it on a '
                         'GPU machine, or pass --dry-run to check the '
                         'script on the CPU.')
    device = 'cpu' if args.dry_run else 'cuda'
    out_dir = osp.abspath(args.out_dir or (
        osp.join(ROOT, 'work_dirs', 'gpu_check') if args.dry_run else
        osp.join(ROOT, 'benchmarks', 'results', 'gpu')))
    os.makedirs(out_dir, exist_ok=True)
    import man_mm.models  # noqa: F401  (registers man_mm.TorchFocalLoss)
    cuda_ops = mmcv_has_cuda_ops()
    torch_focal = not args.dry_run and not cuda_ops
    result = dict(device=device_info(args.dry_run), mmcv_cuda_ops=cuda_ops,
                  torch_focal_loss=torch_focal, rows=[], tools=[])
    start = time.perf_counter()
    cases = args.cases or [c for c in CASES if not (
        args.dry_run and c == 'retinanet_r50_8x512')]
    for name in cases:
        print(f'{name} ...', flush=True)
        result['rows'] += measure_case(name, args, device, torch_focal)
    if not args.skip_tools:
        result['tools'] = tool_runs(args, out_dir, torch_focal)
    result['wall_s'] = round(time.perf_counter() - start, 1)
    md = markdown(result)
    print('\n' + md)
    with open(osp.join(out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(result, f, indent=2)
    with open(osp.join(out_dir, 'gpu_check.md'), 'w') as f:
        f.write(md + '\n')
    print(f'\nwrote {out_dir}/gpu_check.json and .md '
          f"({result['wall_s']} s)")
    failed = [r for r in result['rows'] if 'error' in r] + \
        [t for t in result['tools'] if t['returncode'] != 0]
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
