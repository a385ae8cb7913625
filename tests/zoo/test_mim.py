# Copyright (c) mmvitplug contributors.
"""``mim search mmvitplug`` and ``mim train mmvitplug CONFIG`` as for an
OpenMMLab package: mim finds the installed package's ``.mim`` folder
(model-index.yml, configs, tools)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmvitplug.utils import zoo
from _builders import REPO_ROOT

MIM = [sys.executable, '-m', 'mim']


def run_mim(*args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    out = subprocess.run(
        MIM + list(args),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_installed_package_has_the_mim_folder():
    """What mim reads: <dist location>/mmvitplug/.mim/{model-index.yml,
    configs, tools} (setup.py makes it; tools/setup_env.sh links the
    editable install where mim looks)."""
    from mim.utils import get_installed_path
    root = get_installed_path('mmvitplug')
    for name in ('model-index.yml', 'configs', 'tools/train.py'):
        assert osp.exists(osp.join(root, '.mim', name)), name
    assert zoo.zoo_root() is not None


def test_mim_search_lists_our_models():
    index = zoo.load_model_index()
    out = run_mim('search', 'mmvitplug', '--config',
                  'sup-deit-tiny_8xb128_in1k', '--display-width', '400')
    assert 'sup-deit-tiny_8xb128_in1k' in out
    assert 'sup-deit-small_8xb128_in1k' not in out
    # by collection (mim's "model"): every DeiT config, nothing else
    out = run_mim('search', 'mmvitplug', '--model', 'deit', '--field',
                  'config', '--display-width', '400')
    deit = [m.name for m in index.models if m.in_collection == 'DeiT']
    assert deit and all(name in out for name in deit)
    assert 'xcit' not in out
    everything = run_mim('search', 'mmvitplug', '--field', 'model',
                         '--display-width', '400')
    for model in index.models:
        assert model.name in everything, model.name


@pytest.mark.e2e
def test_mim_train_a_bundled_config(tmp_path):
    """mim finds the config by its file name in the package and runs our
    tools/train.py on it (two iterations on 32 digits)."""
    out = run_mim(
        'train', 'mmvitplug', 'sup-cct-6l128d-p4_1xb64_digits.py',
        '--work-dir', str(tmp_path), '--cfg-options',
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=32',
        'val_dataloader.dataset.indices=16',
        'train_dataloader.batch_size=16')
    assert 'sup-cct-6l128d-p4_1xb64_digits.py' in out
    assert osp.isfile(tmp_path / 'epoch_1.pth')
