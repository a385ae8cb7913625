# Copyright (c) mmvitplug contributors.
import os
import os.path as osp
import socket

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def repo_root():
    """The repository root (tools and configs use paths relative to it)."""
    return ROOT


@pytest.fixture(scope='session')
def bundled_data(repo_root):
    """The bundled datasets under ``data/bundled`` (generated if missing)."""
    from mmvitplug.utils.bundled_data import make_all
    root = osp.join(repo_root, 'data', 'bundled')
    make_all(root)
    return root


@pytest.fixture(scope='session')
def bundled_digits(repo_root):
    """Only the bundled digits under ``data/bundled`` (generated if missing).
    """
    from mmvitplug.utils.bundled_data import make_digits
    return make_digits(osp.join(repo_root, 'data', 'bundled'))


@pytest.fixture
def subprocess_env():
    """Environment for tool subprocesses: one OpenMP thread per process."""
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    env['PYTHONUNBUFFERED'] = '1'
    return env


@pytest.fixture
def free_port() -> str:
    """A TCP port free right now, for a multi-process run's rendezvous
    (tests run on parallel workers: no two may share a fixed port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _isolate_default_scope():
    """Undo any mmengine default scope a test sets (it is process-global).

    ``init_default_scope('mmseg')`` in one test would otherwise make every
    later build resolve names in mmseg's registries.
    """
    from mmengine.registry import DefaultScope
    before = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)
