import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

# What `mim` (OpenMMLab's package manager) and the model index need from the
# package: `mim search` reads <package>/.mim/model-index.yml, `mim train`
# runs <package>/.mim/tools/train.py on a config it finds in .mim/configs,
# and mmvitplug.utils.zoo registers the index with mmpretrain's ModelHub.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def add_mim_extension():
    """Put configs, tools and model-index.yml into ``mmvitplug/.mim``, as
    OpenMMLab packages do: links into the clone for an editable install
    (edits show at once), copies for a wheel or an sdist."""
    if any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist')):
        mode = 'copy'
    elif any(cmd in sys.argv for cmd in ('develop', 'editable_wheel')):
        mode = 'symlink'
    else:
        return
    root = osp.dirname(osp.abspath(__file__))
    mim_dir = osp.join(root, 'mmvitplug', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(root, name)
        dst = osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(
                src, dst,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


def _version():
    ns = {}
    with open('mmvitplug/version.py') as f:
        exec(f.read(), ns)
    return ns['__version__']


add_mim_extension()
setup(
    name='mmvitplug',
    version=_version(),
    description='Vision transformers and their training methods '
    '(distillation, self-supervised pretraining) for OpenMMLab',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmvitplug', 'mmvitplug.*']),
    package_data={'mmvitplug': ['.mim/*', '.mim/**/*']},
    python_requires='>=3.9',
    # The OpenMMLab stack is pinned and checked by tools/setup_env.sh
    # (mmcv must be built against the installed torch); only pure-python
    # needs are declared here so `pip install -e .` never pulls a torch.
    install_requires=[],
    license='Apache-2.0',
)
