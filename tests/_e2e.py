# Copyright (c) mmvitplug contributors.
"""Shared code of the end-to-end tests: run the tools, read their logs.

The runs write mmengine's ``<work_dir>/<timestamp>/vis_data/scalars.json``
(one JSON record per logged step); the readers below go through every run
under a work dir in order, so a resumed run continues the first one's list.
"""
import os.path as osp
import subprocess
import sys
from typing import List, Optional, Sequence

from mmvitplug.utils.logs import logged_records

#: cfg-options for one process: no loader workers, none kept alive
SERIAL_LOADERS = [
    f'{loader}.{key}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key in ('num_workers=0', 'persistent_workers=False')
]


def run_tool(args: Sequence[str], cwd: str, env: dict,
             timeout: Optional[float] = None) -> str:
    """Run a command; fail the test with the end of its output unless it
    exits 0.

    Returns:
        str: stdout and stderr, joined.
    """
    proc = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{list(args)} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
    return proc.stdout + proc.stderr


def train(repo_root: str, config: str, work_dir, *args: str, env: dict,
          timeout: Optional[float] = None) -> str:
    """``tools/train.py config --work-dir work_dir *args`` in the repo root.

    Returns:
        str: The run's stdout and stderr, joined.
    """
    cmd = [
        sys.executable,
        osp.join(repo_root, 'tools', 'train.py'), config, '--work-dir',
        str(work_dir), *args
    ]
    return run_tool(cmd, repo_root, env, timeout)


def scalar_records(work_dir) -> List[dict]:
    """Every record the training runs under ``work_dir`` logged, in order."""
    return logged_records(str(work_dir), runs=['train'])


def logged(work_dir, key: str) -> list:
    """Every logged value of ``key``; fails if there is none."""
    values = [r[key] for r in scalar_records(work_dir) if key in r]
    assert values, f'no {key} logged under {work_dir}'
    return values


def train_records(work_dir) -> List[dict]:
    """The records of training steps (those with a loss and an lr)."""
    return [r for r in scalar_records(work_dir) if 'loss' in r and 'lr' in r]


def smoke_train(repo_root: str, config: str, work_dir, *cfg_options: str,
                env: dict, timeout: Optional[float] = None) -> str:
    """A short run logged every 5 iterations whose loss must go down.

    Returns:
        str: The run's stdout and stderr, joined.
    """
    log = train(repo_root, config, work_dir, '--cfg-options',
                'default_hooks.logger.interval=5', *cfg_options, env=env,
                timeout=timeout)
    losses = [r['loss'] for r in train_records(work_dir)]
    assert len(losses) >= 4, losses
    assert losses[-1] < losses[0], losses
    return log
