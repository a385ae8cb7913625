# Copyright (c) mmvitplug contributors.
"""Fine-tuning configs load the checkpoint they promise: the official one
(converted on load, backbone and head) or an mmvitplug one."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmvitplug.models.backbones import CCT, CaiT, CvT, DeiT
from _builders import REPO_ROOT

ROOT = REPO_ROOT
NUM_CLASSES, DIMS = 10, 32


def _official_cait(state):
    return {re.sub(r'^(blocks\.\d+)\.ls([12])\.gamma$', r'\1.gamma_\2', k): v
            for k, v in state.items()}


def _official_cct(state):
    """mmvitplug CCT keys (and ``head.*``) -> official ``src/cct.py``."""
    names = {'norm1': 'pre_norm', 'attn': 'self_attn', 'norm2': 'norm1',
             'mlp.fc1': 'linear1', 'mlp.fc2': 'linear2', 'pos_embed':
             'positional_emb', 'head': 'fc'}
    official = {}
    for key, value in state.items():
        if not key.startswith('tokenizer.'):
            key = 'classifier.' + re.sub(
                r'^(blocks\.\d+\.)?(norm1|attn|norm2|mlp\.fc[12]|pos_embed'
                r'|head)\b', lambda m: (m[1] or '') + names[m[2]], key)
        official[key] = value
    return official


def _official_cvt(state):
    """mmvitplug CvT keys (and ``head.*``) -> official ``cls_cvt.py``."""
    official = {}
    for key, value in state.items():
        stage = re.fullmatch(r'stages\.(\d+)\.(\d+)\.(.*)', key)
        if key.startswith('patch_embed.'):
            key = 'stage0.' + key
        elif stage and stage[1] == '0':
            key = f'stage0.blocks.{stage[2]}.{stage[3]}'
        elif stage and stage[2] == '0':  # the stage's embedding
            rest = stage[3] if stage[3] == 'cls_token' else \
                'patch_embed.' + stage[3]
            key = f'stage{stage[1]}.{rest}'
        elif stage:
            key = f'stage{stage[1]}.blocks.{int(stage[2]) - 1}.{stage[3]}'
        official[key] = value
    return official


#: backbone sizes of the 224px model and of the config's, scaled; pyramid
#: families without a position embedding take none
PATCH_SIZES = (dict(img_size=32, patch_size=8),
               dict(img_size=48, patch_size=8))
#: CCT: 3 conv + pool layers of stride 2 (tokens of 8 px, as PATCH_SIZES)
TINY_CCT = dict(embed_dims=DIMS, num_layers=2, num_heads=4,
                feedforward_channels=64, kernel_size=3, num_conv_layers=3,
                conv_channels=8)
TINY_CVT = dict(embed_dims=(8, 16, DIMS), num_heads=(1, 2, 2),
                depths=(1, 1, 2))

# config, backbone class, tiny arch, official names of a bare state dict
# (backbone and head), optionally the (224, config) backbone sizes
CASES = {
    'cait-384': ('configs/cait/sup-cait-s24-384_8xb64_in1k.py', CaiT,
                 dict(embed_dims=DIMS, num_layers=2, num_heads=4,
                      feedforward_channels=64, init_values=0.5),
                 _official_cait),
    'deit-384': ('configs/deit/sup-deit-base-384_8xb64_in1k.py', DeiT,
                 dict(embed_dims=DIMS, num_layers=2, num_heads=4,
                      feedforward_channels=64), dict),
    'cct-384': ('configs/cct/sup-cct-14-7x2-384_8xb96_in1k.py', CCT,
                TINY_CCT, _official_cct,
                (dict(img_size=32), dict(img_size=48))),
    'cvt-13-384': ('configs/cvt/sup-cvt-13-384_8xb64_in1k.py', CvT,
                   TINY_CVT, _official_cvt, ({}, {})),
    'cvt-21-384': ('configs/cvt/sup-cvt-21-384_8xb64_in1k.py', CvT,
                   TINY_CVT, _official_cvt, ({}, {})),
}
DISTILLED_384 = 'configs/deit/distill-hard-deit-base-384_8xb64_in1k.py'
TINY_DEIT = dict(embed_dims=DIMS, num_layers=2, num_heads=4,
                 feedforward_channels=64)


def build_from_config(path, arch, checkpoint, teacher_dir=None,
                      sizes=PATCH_SIZES[1]):
    """The config's model, with a tiny arch at 48 px and ``checkpoint``
    (and a tiny teacher saved under ``teacher_dir`` for a distillation
    config)."""
    cfg = Config.fromfile(osp.join(ROOT, path))
    model = cfg.model
    if 'teacher' in model:
        from mmpretrain.models import ImageClassifier
        model.teacher = dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet', depth=18, base_channels=8,
                          stem_channels=8),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                      in_channels=64))
        from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
        teacher = MMPRETRAIN_MODELS.build(model.teacher)
        assert isinstance(teacher, ImageClassifier)
        model.teacher_ckpt = str(teacher_dir / 'teacher.pth')
        torch.save({'state_dict': teacher.state_dict()}, model.teacher_ckpt)
    assert model.backbone.init_cfg.checkpoint == cfg.pretrained
    assert model.head.init_cfg.checkpoint == cfg.pretrained
    model.backbone.arch = arch
    model.backbone.update(sizes)
    model.head.num_classes = NUM_CLASSES
    model.head.in_channels = DIMS
    model.backbone.init_cfg.checkpoint = checkpoint
    model.head.init_cfg.checkpoint = checkpoint
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        init_default_scope(cfg.default_scope)
        from mmengine.registry import MODELS
        return MODELS.build(model)


@pytest.mark.parametrize('layout', ['official', 'mmvitplug'])
@pytest.mark.parametrize('case', CASES)
def test_finetune_config_loads_its_checkpoint(case, layout, tmp_path):
    path, cls, arch, official_names, *sizes = CASES[case]
    src_sizes, cfg_sizes = sizes[0] if sizes else PATCH_SIZES
    torch.manual_seed(1)
    src = cls(arch, **src_sizes)  # the 224px model, scaled
    head = torch.nn.Linear(DIMS, NUM_CLASSES)
    if layout == 'official':
        state = dict(src.state_dict())
        state.update({'head.weight': head.weight, 'head.bias': head.bias})
        ckpt = {'model': official_names(state), 'epoch': 299}
    else:
        state = {'backbone.' + k: v for k, v in src.state_dict().items()}
        state.update({'head.fc.weight': head.weight,
                      'head.fc.bias': head.bias})
        ckpt = {'state_dict': state, 'meta': {}}
    file = str(tmp_path / 'pretrained.pth')
    torch.save(ckpt, file)

    model = build_from_config(path, arch, file, sizes=cfg_sizes)
    model.init_weights()
    torch.testing.assert_close(model.head.fc.weight, head.weight)
    torch.testing.assert_close(model.head.fc.bias, head.bias)
    ours, theirs = model.backbone.state_dict(), src.state_dict()
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if key == 'pos_embed':  # 4x4 grid interpolated to 6x6
            assert ours[key].shape[1] == value.shape[1] + 20
        else:
            torch.testing.assert_close(ours[key], value, msg=key)


@pytest.mark.parametrize('layout', ['official', 'mmvitplug'])
def test_distilled_finetune_config_loads_its_checkpoint(layout, tmp_path):
    """The distilled 384 config loads the official distilled DeiT-B layout
    (``head.*`` / ``head_dist.*``) or its own 224 run's checkpoint
    (``head.head.*`` / ``head.head_dist.*``) into backbone and both heads."""
    torch.manual_seed(2)
    src = DeiT(TINY_DEIT, img_size=32, patch_size=8, distilled=True)
    heads = {n: torch.nn.Linear(DIMS, NUM_CLASSES)
             for n in ('head', 'head_dist')}
    if layout == 'official':
        state = dict(src.state_dict())
        for name, head in heads.items():
            state.update({f'{name}.weight': head.weight,
                          f'{name}.bias': head.bias})
        ckpt = {'model': state}
    else:
        state = {'backbone.' + k: v for k, v in src.state_dict().items()}
        for name, head in heads.items():
            state.update({f'head.{name}.weight': head.weight,
                          f'head.{name}.bias': head.bias})
        ckpt = {'state_dict': state, 'meta': {}}
    file = str(tmp_path / 'pretrained.pth')
    torch.save(ckpt, file)

    model = build_from_config(DISTILLED_384, TINY_DEIT, file, tmp_path)
    model.init_weights()
    for name, head in heads.items():
        torch.testing.assert_close(
            getattr(model.head, name).weight, head.weight, msg=name)
        torch.testing.assert_close(
            getattr(model.head, name).bias, head.bias, msg=name)
    ours, theirs = model.backbone.state_dict(), src.state_dict()
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if key != 'pos_embed':  # 4x4 grid interpolated to 6x6
            torch.testing.assert_close(ours[key], value, msg=key)


CVT_W24_22K = 'configs/cvt/sup-cvt-w24-384_8xb64_in1k.py'


@pytest.mark.parametrize('layout', ['official', 'mmvitplug'])
def test_22k_finetune_config_loads_its_backbone(layout, tmp_path):
    """The CvT-W24 384 config fine-tunes an ImageNet-22k model: it loads
    the backbone of the checkpoint it names (official layout, converted, or
    mmvitplug's) and starts a new 1000-class head from zeros (ViT's)."""
    torch.manual_seed(3)
    src = CvT(TINY_CVT)
    head_22k = torch.nn.Linear(DIMS, NUM_CLASSES + 11)  # not 1k classes
    state = dict(src.state_dict())
    if layout == 'official':
        state.update(head_22k.state_dict(prefix='head.'))
        ckpt = {'model': _official_cvt(state)}
    else:
        state = {'backbone.' + k: v for k, v in state.items()}
        state.update(head_22k.state_dict(prefix='head.fc.'))
        ckpt = {'state_dict': state, 'meta': {}}
    file = str(tmp_path / 'pretrained_22k.pth')
    torch.save(ckpt, file)

    cfg = Config.fromfile(osp.join(ROOT, CVT_W24_22K))
    model = cfg.model
    assert model.backbone.init_cfg.checkpoint == cfg.pretrained
    assert model.head.init_cfg.type == 'Constant'  # the 22k head is new
    model.backbone.arch = TINY_CVT
    model.backbone.init_cfg.checkpoint = file
    model.head.in_channels = DIMS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        init_default_scope(cfg.default_scope)
        from mmengine.registry import MODELS
        model = MODELS.build(model)
    model.init_weights()
    assert model.head.fc.weight.shape == (1000, DIMS)
    assert not model.head.fc.weight.any() and not model.head.fc.bias.any()
    ours, theirs = model.backbone.state_dict(), src.state_dict()
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, msg=key)


#: InternImage-L / XL fine-tuned at 384 from ImageNet-22k checkpoints
INTERNIMAGE_22K = {
    'l': 'configs/internimage/sup-internimage-l-384_32xb16_in1k.py',
    'xl': 'configs/internimage/sup-internimage-xl-384_32xb16_in1k.py',
}
#: the official code's tiny L-style classifier (post-norm, layer scales,
#: offset scale 2; 64 channels in the last level, a 10-class head)
INTERNIMAGE_GOLDEN = osp.join(ROOT, 'tests', 'data', 'internimage_golden.pt')
TINY_INTERNIMAGE_L = dict(channels=8, depths=(1, 1, 2, 1),
                          groups=(1, 2, 4, 8), layer_scale=1e-5,
                          post_norm=True, offset_scale=2.0)


@pytest.mark.parametrize('classes', [NUM_CLASSES, NUM_CLASSES + 11])
@pytest.mark.parametrize('layout', ['official', 'mmvitplug'])
@pytest.mark.parametrize('size', sorted(INTERNIMAGE_22K))
def test_internimage_22k_finetune_config_loads_its_checkpoint(
        size, layout, classes, tmp_path):
    """The InternImage-L / XL 384 configs load the backbone and conv_head
    of the checkpoint they name (official layout, converted, or
    mmvitplug's); its classifier too when it has the config's classes (the
    whole official model then gives the official logits), else (a 22k
    head) fc starts from the official RAND_INIT_FT_HEAD re-initialisation:
    a fresh truncated normal x 0.001, zero bias."""
    from mmvitplug.converters import convert_internimage
    golden = torch.load(INTERNIMAGE_GOLDEN, weights_only=True)
    golden = golden['models']['l_style']
    state = dict(golden['state_dict'])
    if classes != NUM_CLASSES:  # a 22k-like head
        torch.manual_seed(4)
        state['head.weight'] = torch.randn(classes, 96)
        state['head.bias'] = torch.randn(classes)
    ckpt = {'model': state} if layout == 'official' else {
        'state_dict': convert_internimage(state), 'meta': {}}
    file = str(tmp_path / 'pretrained_22k.pth')
    torch.save(ckpt, file)

    cfg = Config.fromfile(osp.join(ROOT, INTERNIMAGE_22K[size]))
    model = cfg.model
    head_inits = model.head.init_cfg
    assert model.backbone.init_cfg.checkpoint == cfg.pretrained
    assert head_inits[-1].checkpoint == cfg.pretrained
    assert head_inits[-1].prefix == 'head.'
    model.backbone.arch = TINY_INTERNIMAGE_L
    model.backbone.init_cfg.checkpoint = file
    head_inits[-1].checkpoint = file
    model.head.update(in_channels=64, num_classes=NUM_CLASSES)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        init_default_scope(cfg.default_scope)
        from mmengine.registry import MODELS
        model = MODELS.build(model)
    model.init_weights()
    model.eval()

    converted = convert_internimage(state)
    ours = model.state_dict()
    for key, value in converted.items():
        if not key.startswith('head.fc.') or classes == NUM_CLASSES:
            torch.testing.assert_close(ours[key], value, msg=key)
    if classes == NUM_CLASSES:
        with torch.no_grad():
            logits = model(golden['input'], mode='tensor')
        assert (logits - golden['logits']).abs().max() <= 1e-4
    else:
        fc = model.head.fc
        assert fc.weight.shape == (NUM_CLASSES, 96)
        assert 1e-5 < fc.weight.std() < 4e-5  # 0.02 x 0.001
        assert not fc.bias.any()


def test_pretrained_init_names_unknown_converter():
    from mmvitplug.models.utils import PretrainedInit
    with pytest.raises(KeyError, match="NoSuch.*'CaiT'.*'DeiT'"):
        PretrainedInit('x.pth', converter='NoSuch')
