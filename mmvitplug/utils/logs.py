# Copyright (c) mmvitplug contributors.
"""Read back what mmengine logged in a work directory.

A ``tools/train.py`` run writes its scalars (losses, learning rates,
validation metrics) to ``<work_dir>/<timestamp>/vis_data/scalars.json``; a
``tools/test.py`` run writes its metrics to
``<work_dir>/<timestamp>/<timestamp>.json``. Both hold one JSON record per
line. The demo, ``tools/analysis/pretrain_vs_random.py`` and the end-to-end
tests read results through these two functions.
"""
import glob
import json
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence

#: where each kind of run logs its records, relative to the work directory
RUN_LOGS = {
    'train': ('*', 'vis_data', 'scalars.json'),
    'test': ('*', '*.json'),
}


def logged_records(work_dir: str,
                   runs: Sequence[str] = ('train', 'test')) -> List[dict]:
    """Every record logged under ``work_dir``, run after run in timestamp
    order (training runs first when both kinds are read).

    Args:
        work_dir (str): The ``--work-dir`` of the runs.
        runs (Sequence[str]): Which kinds of run to read: ``'train'``
            and / or ``'test'``. Defaults to both.
    """
    unknown = [r for r in runs if r not in RUN_LOGS]
    if unknown:
        raise ValueError(f'unknown run kinds {unknown}; valid: '
                         f'{sorted(RUN_LOGS)}')
    records = []
    for run in runs:
        for path in sorted(glob.glob(osp.join(str(work_dir),
                                              *RUN_LOGS[run]))):
            with open(path) as f:
                records += [json.loads(line) for line in f if line.strip()]
    return records


def last_logged(work_dir: str,
                keys: Optional[Iterable[str]] = None,
                runs: Sequence[str] = ('train', 'test')) -> Dict[str, float]:
    """The last logged value of each key.

    Args:
        work_dir (str): The ``--work-dir`` of the runs.
        keys (Iterable[str], optional): The keys wanted; each must have been
            logged. Defaults to every key logged.
        runs (Sequence[str]): As :func:`logged_records`.

    Raises:
        RuntimeError: if a wanted key (or, without ``keys``, anything) was
            never logged, naming the work directory to look into.
    """
    found = {}
    for record in logged_records(work_dir, runs):
        found.update(record)
    if keys is None:
        if not found:
            raise RuntimeError(f'nothing logged under {work_dir}; see the '
                               'run log there')
        return found
    keys = list(keys)
    missing = [k for k in keys if k not in found]
    if missing:
        raise RuntimeError(f'no {missing} logged under {work_dir}; see the '
                           'run log there')
    return {k: found[k] for k in keys}
