# Copyright (c) mmvitplug contributors.
"""DynamicViT's bundled config through tools/train.py with a random DeiT
teacher (the student initialised from it): two short epochs (the first the
warm-up, in which the ViT and head stay frozen, the official fix_step),
every loss term logged, the pruned model evaluated, the class token and
position embedding never moved. The measured claim (FLOPs, img/s, top-1
over 2 seeds) is in the README."""
import pytest

from _e2e import SERIAL_LOADERS, train

pytestmark = pytest.mark.e2e

CONFIG = ('configs/bundled/dynamic_vit/'
          'dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py')


def test_dynamic_vit_trains(tmp_path, repo_root, bundled_digits,
                            subprocess_env):
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401
    torch.manual_seed(0)
    teacher = str(tmp_path / 'teacher.pth')
    state = MODELS.build(Config.fromfile(CONFIG).teacher).state_dict()
    torch.save({'state_dict': state}, teacher)
    log = train(
        repo_root, CONFIG, tmp_path / 'run', '--cfg-options',
        f'model.teacher_ckpt={teacher}',
        f'model.backbone.backbone.init_cfg.checkpoint={teacher}',
        f'model.head.init_cfg.checkpoint={teacher}',
        'train_cfg.max_epochs=2', 'train_dataloader.dataset.indices=64',
        'val_dataloader.dataset.indices=32', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=2',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    for term in ('loss_cls', 'loss_ratio', 'loss_kd', 'loss_token',
                 'accuracy/top1'):
        assert term in log, term

    def load(epoch):
        return torch.load(str(tmp_path / 'run' / f'epoch_{epoch}.pth'),
                          map_location='cpu',
                          weights_only=False)['state_dict']

    first, last = load(1), load(2)
    qkv = 'backbone.blocks.0.attn.qkv.weight'
    own = qkv.replace('backbone.', 'backbone.vit.')
    # warm-up: only the predictors train; then the ViT at lr x 0.01
    assert torch.equal(first[own], state[qkv])
    assert torch.equal(first['head.fc.weight'], state['head.fc.weight'])
    assert not torch.equal(last[own], state[qkv])
    predictor = 'backbone.predictors.0.in_conv.1.weight'
    assert not torch.equal(first[predictor], last[predictor])
    for key in ('cls_token', 'pos_embed'):
        assert torch.equal(last[f'backbone.vit.{key}'],
                           state[f'backbone.{key}'])
