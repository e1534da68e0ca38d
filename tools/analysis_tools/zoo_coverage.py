# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Which configs of the installed OpenMMLab zoos man_mm trains locally.

For every config that mmpretrain, mmdet and mmagic ship
(``<package>/.mim/configs``, ``_base_`` files excluded), resolve the model
type and its backbone (mmagic: generator) type through the package's
registry, without building anything, and check them against man_mm's
registered task adapters and unit splitters. A config is *wrapped* when
both accept it; otherwise the reason is named.

    python tools/analysis_tools/zoo_coverage.py [--out coverage.json]
        [--list refused|wrapped|all] [--packages mmpretrain mmdet mmagic]

The summary table counts model configs per package (fragments that define
no model -- schedules, datasets, TTA -- are counted apart); ``--out``
writes every config with its verdict. Besides the classes, each splitter's
``refusal()`` reads the backbone config for settings it cannot split
(several ``out_indices``, a ViT's dense output); its build-time checks stay
the authority.
"""
import argparse
import collections
import glob
import json
import os.path as osp
import sys
import warnings

from mmengine.config import Config

#: package -> (registry scope, the key of the split network).
PACKAGES = {
    'mmpretrain': ('mmpretrain', 'backbone'),
    'mmdet': ('mmdet', 'backbone'),
    'mmagic': ('mmagic', 'generator'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--packages', nargs='+', default=list(PACKAGES),
                        choices=list(PACKAGES))
    parser.add_argument('--list', choices=['refused', 'wrapped', 'all'],
                        default=None, help='also list configs')
    parser.add_argument('--out', help='JSON with every config and verdict')
    return parser.parse_args(argv)


def shipped_configs(package: str):
    import importlib
    root = osp.join(osp.dirname(importlib.import_module(package).__file__),
                    '.mim', 'configs')
    return sorted(p for p in glob.glob(osp.join(root, '**', '*.py'),
                                       recursive=True)
                  if '_base_' not in p.split(osp.sep)), root


def resolve(registry, type_name, scope):
    """The class a config's ``type`` names, or None."""
    if not isinstance(type_name, str):
        return type_name if isinstance(type_name, type) else None
    with registry.switch_scope_and_registry(scope) as reg:
        return reg.get(type_name)


#: The verdict of a config that defines no model (a schedule, dataset or
#: test-time-augmentation fragment): not a model config, so not counted.
NO_MODEL = 'no model in the config'


def verdict(cfg, scope, key):
    """``(wrapped, reason, model_type, net_type)`` of one config.

    Types resolve in the config's own ``default_scope`` when it sets one
    (mmdet's CSPNeXt ImageNet configs are mmpretrain classifiers), else
    in ``scope``.
    """
    import importlib

    from mmengine.registry import MODELS

    from man_mm.registry import (TASK_ADAPTERS, UNIT_SPLITTERS,
                                 supported_types)
    model = cfg.get('model')
    if not isinstance(model, dict) or 'type' not in model:
        return False, NO_MODEL, None, None
    own_scope = cfg.get('default_scope')
    if isinstance(own_scope, str) and own_scope != scope:
        try:
            importlib.import_module(f'{own_scope}.models')
            scope = own_scope
        except ImportError:
            pass
    model_type = model['type']
    model_cls = resolve(MODELS, model_type, scope)
    if model_cls is None:
        return False, f'model type {model_type} not registered ' \
            '(a project or optional package)', str(model_type), None
    adapters = [c for c in TASK_ADAPTERS.module_dict.values()
                if issubclass(model_cls, supported_types(c) or (type(None),))]
    net = model.get(key)
    net_type = net.get('type') if isinstance(net, dict) else None
    if not adapters:
        # An adapter that would accept the class by inheritance but
        # refuses it by name says why.
        reasons = [c.refusal(model_cls) for c in
                   TASK_ADAPTERS.module_dict.values()
                   if hasattr(c, 'refusal')]
        why = next((r for r in reasons if r), 'no task adapter')
        return False, f'model {model_cls.__name__}: {why}', \
            model_cls.__name__, net_type
    if net_type is None:
        return False, f'model {model_cls.__name__} has no {key}', \
            model_cls.__name__, None
    net_cls = resolve(MODELS, net_type, scope)
    if net_cls is None:
        return False, f'{key} type {net_type} not registered', \
            model_cls.__name__, str(net_type)
    splitters = [c for c in UNIT_SPLITTERS.module_dict.values()
                 if issubclass(net_cls, supported_types(c) or (type(None),))]
    if not splitters:
        return False, f'{key} {net_cls.__name__}: no unit splitter', \
            model_cls.__name__, net_cls.__name__
    why = splitters[0].refusal(net_cls, net)
    if why:
        return False, f'{key} {net_cls.__name__}: {why}', \
            model_cls.__name__, net_cls.__name__
    return True, f'{adapters[0].__name__} + {splitters[0].__name__}', \
        model_cls.__name__, net_cls.__name__


def survey(package):
    """Every shipped config of ``package`` with its verdict."""
    import importlib

    from mmengine.registry import init_default_scope
    scope, key = PACKAGES[package]
    importlib.import_module(f'{package}.models')  # fills the registry
    init_default_scope(scope)
    paths, root = shipped_configs(package)
    rows = []
    for path in paths:
        name = osp.relpath(path, root)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                cfg = Config.fromfile(path)
        except Exception as e:  # noqa: BLE001  (a config that needs more)
            rows.append(dict(config=name, wrapped=False,
                             reason=f'config does not load: '
                             f'{type(e).__name__}'))
            continue
        wrapped, reason, model_type, net_type = verdict(cfg, scope, key)
        rows.append(dict(config=name, wrapped=wrapped, reason=reason,
                         model=model_type, network=net_type,
                         restorer=package == 'mmagic' and
                         is_restorer(cfg, scope)))
    return rows


#: mmagic ``BaseEditModel`` subclasses that restore or interpolate video
#: (several frames in, one or several out), and their subclasses.
VIDEO_MODELS = ('BasicVSR', 'EDVR', 'TDAN', 'BasicInterpolator',
                'RealBasicVSR')
#: ... and those that read a second, reference image (reference-based SR).
REFERENCE_MODELS = ('TTSR', )


def is_restorer(cfg, scope) -> bool:
    """An mmagic single-image model: a ``BaseEditModel`` with a
    generator (SR and restoration, adversarially trained or not; not
    unconditional GANs, diffusion, the video models -- :data:`VIDEO_MODELS`,
    or trained on a frames data set -- or reference-based SR,
    :data:`REFERENCE_MODELS`)."""
    from mmagic.models.base_models import BaseEditModel
    from mmengine.registry import MODELS
    model = cfg.get('model')
    if not isinstance(model, dict) or 'generator' not in model:
        return False
    cls = resolve(MODELS, model.get('type'), scope)
    if not (isinstance(cls, type) and issubclass(cls, BaseEditModel)):
        return False
    if any(k.__name__ in VIDEO_MODELS + REFERENCE_MODELS
           for k in cls.__mro__):
        return False
    dataset = (cfg.get('train_dataloader') or {}).get('dataset')
    while isinstance(dataset, dict) and isinstance(dataset.get('dataset'),
                                                   dict):
        dataset = dataset['dataset']  # RepeatDataset and other wrappers
    return not (isinstance(dataset, dict) and
                'Frames' in str(dataset.get('type')))


def summary(results):
    lines = ['| package | model configs | wrapped | share | most common '
             'refusals |', '|---|---|---|---|---|']
    for package, rows in results.items():
        fragments = sum(r['reason'] == NO_MODEL for r in rows)
        rows = [r for r in rows if r['reason'] != NO_MODEL]
        n = len(rows)
        ok = sum(r['wrapped'] for r in rows)
        refusals = collections.Counter(r['reason'] for r in rows
                                       if not r['wrapped'])
        top = '; '.join(f'{reason} ({count})'
                        for reason, count in refusals.most_common(3))
        lines.append(f'| {package} | {n} (+{fragments} without a model) | '
                     f'{ok} | {100 * ok / max(n, 1):.1f}% | {top} |')
        restorers = [r for r in rows if r.get('restorer')]
        if restorers:
            ok = sum(r['wrapped'] for r in restorers)
            # 'generator Restormer' or 'model SRGAN': what refused it.
            why = collections.Counter(r['reason'].split(':')[0]
                                      for r in restorers if not r['wrapped'])
            top = '; '.join(f'{what} ({count})'
                            for what, count in why.most_common(5))
            lines.append(
                f'| {package}, single-image restorers (BaseEditModel '
                f'with a generator; not video or reference-based) | '
                f'{len(restorers)} | {ok} | '
                f'{100 * ok / len(restorers):.1f}% | not wrapped: {top} |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    import man_mm.models  # noqa: F401  (registers splitters, adapters)
    results = {}
    for package in args.packages:
        print(f'{package} ...', file=sys.stderr, flush=True)
        results[package] = survey(package)
    table = summary(results)
    print(table)
    print('\nBy class and backbone config, without building; a build may '
          'still refuse what the config does not show.')
    if args.list:
        for package, rows in results.items():
            for r in rows:
                if args.list == 'all' or (args.list == 'wrapped') == \
                        r['wrapped']:
                    print(f"{package}/{r['config']}: {r['reason']}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(summary=table, configs=results), f, indent=2)
    return results


if __name__ == '__main__':
    main()
