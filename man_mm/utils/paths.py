"""Where man_mm's command-line tools are, installed or in a checkout."""
import os.path as osp


def tools_dir() -> str:
    """``tools/`` of this checkout, or ``man_mm/.mim/tools`` of an
    installed copy (where ``mim`` finds them too)."""
    pkg = osp.dirname(osp.dirname(osp.realpath(__file__)))
    for path in (osp.join(pkg, '.mim', 'tools'),
                 osp.join(osp.dirname(pkg), 'tools')):
        if osp.isfile(osp.join(path, 'train.py')):
            # A checkout's .mim/tools links to its tools/: the real path,
            # so scripts find the checkout around them (setup_env.sh).
            return osp.realpath(path)
    raise FileNotFoundError(
        f'man_mm tools/ not found next to the package at {pkg}; reinstall '
        'with tools/setup_env.sh (or pip install .).')
