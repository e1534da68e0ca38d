"""Install man_mm (``pip install -e .`` or ``pip install .``).

``tools/setup_env.sh`` builds the whole pinned environment; this file only
declares the package, and -- as mmdet/mmyolo do -- exposes ``tools/`` and
``configs/`` under ``man_mm/.mim`` so that ``mim train man_mm <config>``
finds them.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup


def read_version():
    ns = {}
    with open(osp.join('man_mm', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def parse_requirements(fname):
    reqs = []
    with open(fname) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-r'):
                reqs.append(line)
    return reqs


def add_mim_extension():
    """Expose tools/ and configs/ to mim under man_mm/.mim.

    Editable installs (``develop`` for legacy pip, ``editable_wheel`` for
    PEP 660) get symlinks, so edits show up at once; regular builds get
    copies.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv
             for cmd in ('sdist', 'bdist_wheel', 'install', 'build')):
        mode = 'copy'
    else:
        return
    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'man_mm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('tools', 'configs', 'model-index.yml'):
        src = osp.join(repo_path, name)
        tar = osp.join(mim_path, name)
        if osp.islink(tar) or osp.isfile(tar):
            os.remove(tar)
        elif osp.isdir(tar):
            shutil.rmtree(tar)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), tar)
        elif osp.isfile(src):
            shutil.copyfile(src, tar)
        else:
            shutil.copytree(src, tar)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='man_mm',
        version=read_version(),
        description='Supervised local learning (MAN: memory-augmented '
        'auxiliary networks) for OpenMMLab detection, classification and '
        'super-resolution',
        long_description=open('README.md').read(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('tests', 'tests.*', 'configs',
                                        'tools')),
        include_package_data=True,
        package_data={'man_mm': ['.mim/model-index.yml',
                                 '.mim/configs/**/*.py', '.mim/tools/*.py',
                                 '.mim/tools/**/*.py', '.mim/tools/*.sh']},
        python_requires='>=3.8',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'mim': parse_requirements('requirements/mminstall.txt'),
            'sr': parse_requirements('requirements/sr.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
        },
        license='Apache License 2.0',
        zip_safe=False)
