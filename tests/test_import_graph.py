"""The package's layers: nothing imports upwards, and no import circle."""
import ast
import os
import os.path as osp

import pytest

from tests.helpers import ROOT

PKG = osp.join(ROOT, 'man_mm')

#: A folder may import only folders of the same or a lower rank.
RANKS = {
    'man_mm.utils': 0,
    'man_mm.registry': 0,
    'man_mm.version': 0,
    'man_mm.datasets': 1,
    'man_mm.models.layers': 1,
    'man_mm.models.losses': 1,
    'man_mm.models.task_modules': 1,
    'man_mm.models.backbones': 1,
    'man_mm.models.splitters': 2,
    'man_mm.models.task_adapters': 3,
    'man_mm.models.aux_heads': 4,
    'man_mm.models.local_learning': 5,
    'man_mm.models': 6,
    'man_mm.engine': 7,
    'man_mm.analysis': 7,
    'man_mm.testing': 7,
    'man_mm': 8,
}


def module_name(path):
    rel = osp.relpath(path, ROOT)[:-3].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def modules():
    for root, _, files in os.walk(PKG):
        for f in files:
            if f.endswith('.py'):
                yield osp.join(root, f)


def imports_of(path):
    """man_mm modules ``path`` imports (anywhere in the file)."""
    name = module_name(path)
    package = name if path.endswith('__init__.py') else \
        name.rpartition('.')[0]
    tree = ast.parse(open(path).read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names
                      if a.name.split('.')[0] == 'man_mm'}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module
                                          else []))
            else:
                target = node.module or ''
            if target.split('.')[0] != 'man_mm':
                continue
            for alias in node.names:  # `from pkg import submodule`
                sub = f'{target}.{alias.name}'
                found.add(sub if osp.exists(_path(sub)) or
                          osp.isdir(_path(sub)[:-3]) else target)
    return found


def _path(name):
    return osp.join(ROOT, *name.split('.')) + '.py'


def folder(name):
    """The ranked folder a module belongs to (the longest prefix)."""
    best = max((k for k in RANKS if name == k or name.startswith(k + '.')),
               key=len)
    return best


GRAPH = {module_name(p): imports_of(p) for p in modules()}


def test_every_module_has_a_layer():
    for name in GRAPH:
        assert folder(name) in RANKS, name


@pytest.mark.parametrize('name', sorted(GRAPH))
def test_no_upward_import(name):
    own = RANKS[folder(name)]
    for target in GRAPH[name]:
        if folder(target) == folder(name):
            continue
        assert RANKS[folder(target)] <= own, \
            f'{name} (layer {folder(name)}) imports {target} ' \
            f'(layer {folder(target)}), which is above it'


def test_utils_never_imports_models():
    for name, targets in GRAPH.items():
        if folder(name) == 'man_mm.utils':
            assert not [t for t in targets if t.startswith('man_mm.models')
                        ], name


def test_no_import_circle():
    """Between modules: package ``__init__`` re-exports excluded (importing
    a package's submodule runs its ``__init__``, which re-exports it)."""
    graph = {n: {t for t in ts if t in GRAPH and not _is_parent(t, n)}
             for n, ts in GRAPH.items()}
    state = {}

    def visit(node, stack):
        state[node] = 'open'
        for nxt in graph[node]:
            if state.get(nxt) == 'open':
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail('import circle: ' + ' -> '.join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 'done'

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def _is_parent(target, name):
    return name.startswith(target + '.')
