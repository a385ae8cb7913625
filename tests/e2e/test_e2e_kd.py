# Copyright (c) mmvitplug contributors.
"""Smoke training of the distillation methods' bundled configs through
tools/train.py, each with a random stand-in teacher: function matching in
its two-view ("inconsistent") form, locality guidance, and single-image
distillation on patches written by its data tool. A few dozen iterations
each, ending with the digits evaluation; the measured claims are in the
README (tools/analysis/distill_claims.py)."""
import re
import sys

import pytest

from _e2e import SERIAL_LOADERS, smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/'


def _plain_student(path, state):
    """The student of a distillation checkpoint's ``state`` loaded alone
    (strictly) into a plain ImageClassifier of the config's backbone, neck
    and head."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(path).model
    plain = MODELS.build(
        dict(type='ImageClassifier', backbone=cfg.backbone, neck=cfg.neck,
             head=dict(cfg.head, loss=dict(type='CrossEntropyLoss'))))
    plain.load_state_dict({
        k: v for k, v in state.items()
        if k.split('.')[0] in ('backbone', 'neck', 'head')
    })
    return plain


@pytest.fixture
def random_teacher(tmp_path):
    """A digits ResNet teacher checkpoint with random weights."""
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401
    cfg = Config.fromfile('configs/_teachers/resnet18-w32_digits.py')
    torch.manual_seed(0)
    path = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': MODELS.build(cfg.teacher).state_dict()}, path)
    return path


@pytest.mark.parametrize('config', [
    'function_matching/fm-inconsistent-deit-4l192d-p8_1xb16-30e_digits.py',
    'locality_guidance/lg-deit-4l192d-p8_1xb16_digits.py',
])
def test_digits_methods_train(config, random_teacher, tmp_path, repo_root,
                              bundled_digits, subprocess_env):
    # one epoch of 20 batches of 16
    log = smoke_train(
        repo_root, CFG + config, tmp_path / 'run',
        f'model.teacher_ckpt={random_teacher}', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_dataloader.dataset.indices=320',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    assert 'accuracy/top1' in log


def test_single_image_distillation_trains(random_teacher, tmp_path,
                                          repo_root, bundled_data,
                                          subprocess_env):
    from mmvitplug.utils.single_image import make_single_image_dataset
    data = str(tmp_path / 'patches')
    make_single_image_dataset(
        f'{bundled_data}/shapes-ade/images/training/000001.jpg', data, 128)
    # 2 epochs of 16 batches of 8 patches
    log = smoke_train(
        repo_root, CFG + 'single_image/'
        'single-image-resnet18-w32_1xb64-30e_digits.py', tmp_path / 'run',
        f'model.teacher_ckpt={random_teacher}',
        f'train_dataloader.dataset.data_root={data}',
        'train_dataloader.batch_size=8', 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2', *SERIAL_LOADERS, env=subprocess_env,
        timeout=300)
    assert 'accuracy/top1' in log


def test_divide_and_co_train_trains(tmp_path, repo_root, bundled_digits,
                                    subprocess_env):
    """Two narrow ResNets co-trained (MutualClassifier: one view each, the
    JS term's warm-up hook, ensemble evaluation)."""
    log = smoke_train(
        repo_root, CFG + 'divide_co_train/dct-resnet18-w23_1xb64-6e_digits.py',
        tmp_path / 'run', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=16',
        'train_dataloader.dataset.indices=320', *SERIAL_LOADERS,
        env=subprocess_env,
        timeout=300)
    assert 'accuracy/top1' in log and 'loss_cot' in log


def test_tinymim_pretrains_and_fine_tunes(tmp_path, repo_root,
                                          bundled_digits, subprocess_env):
    """The TinyMIM chain through the tools: mmpretrain's MAE pre-trains the
    digits teacher, TinyMIM distils its relations into the student (two
    views), the student's backbone is exported and a fine-tuning run
    starts from it."""
    from _e2e import run_tool
    short = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=16',
             'train_dataloader.dataset.indices=320',
             'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
             'default_hooks.checkpoint.interval=1',
             'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False']  # no validation
    smoke_train(repo_root, CFG + 'tinymim/mae-vit-6l192d-p4_1xb64-100e_'
                'digits.py', tmp_path / 'mae', *short, env=subprocess_env,
                timeout=300)
    pretrain = CFG + 'tinymim/tinymim-deit-4l96d-p4_1xb64-30e_digits.py'
    smoke_train(repo_root, pretrain, tmp_path / 'tinymim',
                f'model.teacher_ckpt={tmp_path}/mae/epoch_1.pth', *short,
                env=subprocess_env, timeout=300)
    exported = str(tmp_path / 'backbone.pth')
    run_tool([sys.executable, 'tools/model_converters/export_backbone.py',
              pretrain,
              str(tmp_path / 'tinymim' / 'epoch_1.pth'), exported],
             repo_root, subprocess_env, 120)
    log = smoke_train(
        repo_root, CFG + 'tinymim/sup-deit-4l96d-p4_1xb16-15e_digits.py',
        tmp_path / 'finetune',
        f'model.backbone.init_cfg.checkpoint={exported}',
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=320',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    assert 'accuracy/top1' in log
    # every backbone tensor came from the export
    loaded = re.search(r'Loaded (\d+)/(\d+) tensors', log)
    assert loaded and loaded[1] == loaded[2], log[-3000:]


@pytest.mark.parametrize('mode', ['joint', 'shared'])
def test_bootstrapping_vits_trains(mode, tmp_path, repo_root,
                                   bundled_digits, subprocess_env):
    """A ViT and its agent CNN (own weights, or made of the ViT's) trained
    together: CE, KD both ways, the decaying hint; the ViT evaluated."""
    log = smoke_train(
        repo_root, CFG + f'bootstrapping_vits/bootstrap-{mode}-deit-4l192d-'
        'p8_1xb16-15e_digits.py', tmp_path / 'run', 'train_cfg.max_epochs=1',
        'train_dataloader.dataset.indices=320', *SERIAL_LOADERS,
        env=subprocess_env,
        timeout=300)
    assert 'accuracy/top1' in log and 'loss_hint_weight' in log


def test_mixskd_trains_and_tests_both_heads(tmp_path, repo_root,
                                            bundled_digits, subprocess_env):
    """MixSKD from scratch through tools/train.py (branches, self-teacher,
    discriminators, its own Mixup); tools/test.py then evaluates the saved
    checkpoint with the plain classifier and with the self-teacher head, and
    the classifier's weights load alone into a plain ImageClassifier. (The
    DeiT version's branches are covered by test_mixskd.py.)"""
    import torch

    from _e2e import run_tool
    path = CFG + 'mixskd/mixskd-resnet18-w32_1xb64-6e_digits.py'
    log = smoke_train(
        repo_root, path, tmp_path / 'run', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=16',
        'train_dataloader.dataset.indices=320', *SERIAL_LOADERS,
        env=subprocess_env, timeout=300)
    for term in ('loss_cls', 'loss_mixup_cls', 'loss_kd', 'loss_feat',
                 'loss_adv', 'accuracy/top1'):
        assert term in log, term
    ckpt = str(tmp_path / 'run' / 'epoch_1.pth')
    for predict_with in ('final', 'ensemble'):
        out = run_tool([
            sys.executable, 'tools/test.py', path, ckpt, '--work-dir',
            str(tmp_path / predict_with), '--cfg-options',
            f'model.predict_with={predict_with}', *SERIAL_LOADERS
        ], repo_root, subprocess_env, 300)
        assert 'accuracy/top1' in out
    state = torch.load(ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    _plain_student(path, state)


def test_archnet_periods_train_and_deploy(random_teacher, tmp_path,
                                          repo_root, bundled_digits,
                                          subprocess_env):
    """Arch-Net's bundled config through tools/train.py with 26 periods of
    one iteration (the last of seven): the period of every iteration and
    its learning-rate restart are logged, the student initialised from the
    teacher; it is evaluated at the end, and the student of the checkpoint
    loads alone into a plain ImageClassifier (the adapters are the
    distiller's)."""
    import torch

    from _e2e import logged, train
    path = CFG + 'archnet/archnet-resnet18-w32_1xb64_digits.py'
    config = tmp_path / 'archnet.py'
    config.write_text(f"""_base_ = ['{repo_root}/{path}']
archnet_periods = [1] * 25 + [7]
param_scheduler = dict(periods=archnet_periods, first_cycle=4)
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)]
train_cfg = dict(max_iters=32, val_interval=32)
default_hooks = dict(checkpoint=dict(interval=32))
train_dataloader = dict(batch_size=8)
val_dataloader = dict(dataset=dict(indices=64))
""")
    log = train(
        repo_root, str(config), tmp_path / 'run', '--cfg-options',
        f'model.teacher_ckpt={random_teacher}',
        'default_hooks.logger.interval=1', *SERIAL_LOADERS,
        env=subprocess_env, timeout=300)
    assert 'student initialised from the teacher' in log
    assert 'accuracy/top1' in log
    assert logged(tmp_path / 'run', 'archnet_period') == \
        list(range(25)) + [25] * 7
    # each period restarts at lr 1e-3; the last one anneals (period 4)
    lrs = logged(tmp_path / 'run', 'lr')
    assert lrs[:25] == [1e-3] * 25
    assert lrs[25] == 1e-3 and lrs[26] < lrs[25] and lrs[29] == 1e-3
    ckpt = str(tmp_path / 'run' / 'iter_32.pth')
    state = torch.load(ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    _plain_student(path, state)
    assert any(k.startswith('distiller.connectors.a24.') for k in state)


def test_archnet_vit_periods_train_and_deploy(tmp_path, repo_root,
                                              bundled_digits, subprocess_env):
    """Arch-Net's bundled ViT config through tools/train.py with 6 periods
    (5 of one iteration, the last of three) and a random DeiT teacher: the
    periods are logged, the LSQ steps initialised and saved, and the
    student of the checkpoint loads alone into a plain ImageClassifier,
    whose predictions are those of the trained student."""
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401
    from _e2e import logged, train
    path = CFG + 'archnet/archnet-deit-4l192d-p8_1xb32_digits.py'
    torch.manual_seed(0)
    teacher = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': MODELS.build(
        Config.fromfile(path).teacher).state_dict()}, teacher)
    config = tmp_path / 'archnet.py'
    config.write_text(f"""_base_ = ['{repo_root}/{path}']
archnet_periods = [1] * 5 + [3]
param_scheduler = []
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)]
train_cfg = dict(max_iters=8, val_interval=8)
default_hooks = dict(checkpoint=dict(interval=8))
train_dataloader = dict(batch_size=8)
val_dataloader = dict(dataset=dict(indices=32))
""")
    log = train(
        repo_root, str(config), tmp_path / 'run', '--cfg-options',
        f'model.teacher_ckpt={teacher}', 'default_hooks.logger.interval=1',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    assert 'student initialised from the teacher' in log
    assert 'accuracy/top1' in log
    assert logged(tmp_path / 'run', 'archnet_period') == \
        [0, 1, 2, 3, 4, 5, 5, 5]
    state = torch.load(str(tmp_path / 'run' / 'iter_8.pth'),
                       map_location='cpu', weights_only=False)['state_dict']
    steps = [k for k in state if k.endswith('init_state')]
    assert steps and all(state[k] == 1 for k in steps)
    assert any(k.startswith('distiller.connectors.a8.') for k in state)
    plain = _plain_student(path, state)
    student = MODELS.build(
        dict(Config.fromfile(path).model, teacher_ckpt=teacher))
    student.load_state_dict(state)
    images = torch.randn(2, 3, 32, 32)
    plain.eval(), student.eval()
    torch.testing.assert_close(plain(images), student(images))
