# Copyright (c) mmvitplug contributors.
"""tools/analysis/distill_claims.py reads a segmentation run's result: the
last validation logged (mIoU, aAcc, mAcc at its iteration), across the
run's timestamped folders, and says so when none was logged."""
import json

import pytest

from _builders import load_tool

claims = load_tool('analysis/distill_claims.py')


def _log(folder, records):
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records) + '\n')


def test_segmentation_result_is_the_last_validation(tmp_path):
    _log(tmp_path / '20260101_000000' / 'vis_data', [
        dict(loss=1.0, lr=1e-3, step=10),
        dict(aAcc=90.0, mIoU=70.0, mAcc=80.0, step=10),
    ])
    # a resumed run: a later folder, a later validation
    _log(tmp_path / '20260101_010000' / 'vis_data', [
        dict(loss=0.5, lr=1e-4, step=20),
        dict(aAcc=95.0, mIoU=85.5, mAcc=90.0, data_time=0.1, step=20),
        dict(loss=0.4, lr=1e-5, step=25),
    ])
    assert claims.segmentation_result(str(tmp_path)) == (
        20, dict(mIoU=85.5, aAcc=95.0, mAcc=90.0))


def test_segmentation_result_without_validation(tmp_path):
    _log(tmp_path / '20260101_000000' / 'vis_data',
         [dict(loss=1.0, lr=1e-3, step=10)])
    with pytest.raises(RuntimeError, match=r'no validation \(mIoU\)'):
        claims.segmentation_result(str(tmp_path))
