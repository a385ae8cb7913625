# Copyright (c) mmvitplug contributors.
"""A scratch copy of what tools/zoo/sync.py reads and writes."""
import os.path as osp
import shutil

import pytest

from _builders import REPO_ROOT, load_tool


@pytest.fixture
def scratch(tmp_path):
    """The metafiles, the table pages, the family pages, model-index.yml
    and the results, copied: sync.py / run_zoo.py ``--repo`` it."""
    sync = load_tool('zoo/sync.py')
    metas = sync.load_metafiles(REPO_ROOT)
    pages = list(metas) + list(sync.TABLE_PAGES) + ['model-index.yml']
    pages += list(sync.details_pages(metas))
    for rel in pages:
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(osp.join(REPO_ROOT, rel), dst)
    shutil.copytree(
        osp.join(REPO_ROOT, 'docs', 'zoo', 'results'),
        tmp_path / 'docs' / 'zoo' / 'results')
    return tmp_path
