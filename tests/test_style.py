# Copyright (c) mmvitplug contributors.
"""The code follows the OpenMMLab style settings of setup.cfg."""
import subprocess
import sys

import pytest

PATHS = ['mmvitplug', 'tools', 'tests', 'configs', 'setup.py']


@pytest.mark.parametrize('tool, args', [
    ('flake8', []),
    ('isort', ['--check-only', '--diff']),
])
def test_style(tool, args, repo_root):
    result = subprocess.run([sys.executable, '-m', tool, *args, *PATHS],
                            cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, (
        f'{tool} found style problems (fix them, or run `make lint`):\n'
        f'{result.stdout}{result.stderr}')
