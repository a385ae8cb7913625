# Copyright (c) mmvitplug contributors.
"""TransKD through tools/train.py on the bundled shapes: the Base and EA
distillers on the bundled MiT student (EA: the recorders of a patch
embedding's input and output combined by a connector), and Base on a CMT
student (one of our ViTs), each with a random stand-in teacher, 20
iterations ending with the mIoU evaluation. The checkpoint's student loads
into a plain SegFormer. GL's distiller is the Base one with the mixer chained
before a projection (tests/methods/test_transkd.py runs it against the
official code). The measured claim is in the README
(tools/analysis/distill_claims.py)."""
import pytest

from _e2e import SERIAL_LOADERS, smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/transkd/'


@pytest.fixture(scope='module')
def random_seg_teacher(tmp_path_factory):
    """The bundled TransKD teacher (MiT-B2 widths) with random weights."""
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    import mmvitplug  # noqa: F401
    cfg = Config.fromfile('configs/_teachers/segformer-mit-4l64d-p4_'
                          'shapes-ade.py')
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    teacher = MODELS.build(cfg.teacher)
    teacher.init_weights()
    torch.save({'state_dict': teacher.state_dict()}, path)
    return path


@pytest.mark.parametrize('config', [
    'transkd-base-mit-4l32d-p4_1xb8_shapes-ade.py',
    'transkd-ea-mit-4l32d-p4_1xb8_shapes-ade.py',
    'transkd-base-cmt-8l32d-p4_1xb8_shapes-ade.py',
])
def test_transkd_trains(config, random_seg_teacher, tmp_path, repo_root,
                        bundled_data, subprocess_env):
    import glob

    import torch
    log = smoke_train(
        repo_root, CFG + config, tmp_path / 'run',
        f'model.teacher_ckpt={random_seg_teacher}',
        'train_dataloader.batch_size=4', 'train_cfg.max_iters=20',
        'train_cfg.val_interval=20', 'default_hooks.checkpoint.interval=20',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    assert 'mIoU' in log
    for term in ('loss_hcl', 'loss_pea1', 'loss_pea4', 'decode.loss_ce'):
        assert term in log, term
    # the checkpoint: the student (and the trained connectors), no teacher
    ckpt, = glob.glob(str(tmp_path / 'run' / 'iter_20.pth'))
    state = torch.load(ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    assert not any(k.startswith('teacher.') for k in state)
    assert any(k.startswith('distiller.connectors.csf.') for k in state)
    student = {k: v for k, v in state.items()
               if not k.startswith('distiller.')}
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    import mmvitplug  # noqa: F401
    cfg = Config.fromfile(CFG + config).model
    with DefaultScope.overwrite_default_scope('mmseg'):
        plain = MODELS.build(
            dict(type='EncoderDecoder', backbone=cfg.backbone,
                 decode_head=cfg.decode_head,
                 data_preprocessor=cfg.data_preprocessor,
                 test_cfg=cfg.test_cfg))
    plain.load_state_dict(student, strict=True)
