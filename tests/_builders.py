# Copyright (c) mmvitplug contributors.
"""What many tests build: repository paths and each family's tiny model.

Import it as ``from _builders import ...`` (``tests/`` is on ``sys.path``
through ``tests/conftest.py``).
"""
import importlib.util
import os.path as osp

import torch

#: The repository root and the tests' data folder.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEST_DATA = osp.join(REPO_ROOT, 'tests', 'data')


def load_tool(path: str):
    """``tools/<path>`` (e.g. ``'analysis/attention_map.py'``) as a module,
    so that a test calls its functions or ``main(argv)`` in-process."""
    name = '_tool_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO_ROOT, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: config types of the backbones that wrap a plain ViT, whose own config is
#: under ``backbone.backbone`` (its arch, drop path, ...)
WRAPPERS = ('mmvitplug.DynamicViT', 'mmvitplug.EcoFormer',
            'mmvitplug.SPViTSupernet', 'mmvitplug.SPViT')

#: A 3-block arch of each backbone family, small enough for CPU tests.
TINY_ARCHS = {
    'DeiT':
    dict(embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64),
    'ArchNetViT':  # DeiT's, quantised
    dict(embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64),
    'CaiT':
    dict(embed_dims=32, num_layers=3, num_heads=4, feedforward_channels=64,
         init_values=0.5),
    'ResMLP':
    dict(embed_dims=32, num_layers=3, feedforward_channels=64,
         init_values=0.1),
    'PatchConvNet':
    dict(embed_dims=16, num_layers=3, init_values=0.5),
    'CCT':
    dict(embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64,
         kernel_size=3, num_conv_layers=2, conv_channels=8),
    'ConViT':  # 2 GPSA blocks, then the class token joins
    dict(embed_dims=32, num_layers=3, num_heads=4, feedforward_channels=64,
         local_up_to_layer=2),
    'LeViT':  # staged: 3 stages, 5 layers (2 of them subsampling)
    dict(embed_dims=[16, 24, 32], key_dim=4, num_heads=[2, 3, 4],
         depths=[1, 1, 1]),
    'CvT':  # staged: 3 stages, 4 blocks
    dict(embed_dims=(16, 24, 32), num_heads=(1, 2, 2), depths=(1, 1, 2)),
    'PiT':  # staged: 3 stages, 4 blocks + 2 pooling layers
    dict(embed_dims=(16, 32, 64), depths=(1, 2, 1), num_heads=(1, 2, 4),
         patch_kernel=8, patch_stride=4),
    'CMT':  # staged: 4 stages, each a patch embedding + 5 blocks in all
    dict(embed_dims=(8, 16, 24, 32), depths=(1, 1, 2, 1),
         num_heads=(1, 2, 2, 4), mlp_ratio=2., stem_channels=8),
    'HATNet':  # staged: 4 stages, 5 blocks + 3 downsampling convolutions
    dict(embed_dims=(8, 16, 24, 32), head_dim=8, depths=(1, 1, 2, 1),
         expansions=(2, 2, 2, 2), grid_sizes=(4, 2, 2, 1),
         ds_ratios=(4, 2, 2, 1), kernel_sizes=(3, 3, 3, 3)),
    'RevCol':  # 4 levels x 3 columns of 1 / 1 / 2 / 1 blocks
    dict(channels=(8, 16, 24, 32), depths=(1, 1, 2, 1), num_columns=3),
    'GGhostRegNet':  # 2 blocks, then G-Ghost stages (one trunk layer each)
    dict(depths=(2, 3, 4, 3), widths=(16, 32, 48, 64), group_width=8),
    'GhostNet':  # 10 stages: 16 Ghost bottlenecks and a 1x1 convolution
    dict(width=0.25),
    'ArchNetResNet':  # 4 stages of 1 / 1 / 2 / 1 concatenating blocks; the
    # last two stages merge in 2 groups (max_conv_in=32)
    dict(depths=(1, 1, 2, 1), widths=(8, 16, 24, 32)),
    'ArchNetResNet-bottleneck':  # the same of bottlenecks (4 x the widths);
    # at most 64 inputs a convolution: stage 3's second block and stage 4's
    # first unit and downsampling split in 2, merges in 1 / 2 / 3 / 4 groups
    dict(depths=(1, 1, 2, 1), widths=(8, 16, 24, 32), block='bottleneck'),
    'InternImage':  # 4 levels of 1 / 1 / 2 / 1 DCNv3 blocks, 8 channels a
    # group; pre-norm (InternImage-T style)
    dict(channels=8, depths=(1, 1, 2, 1), groups=(1, 2, 4, 8)),
    'LIT':  # staged: 4 stages, 5 blocks + 3 token mergings; LIT-S style
    dict(embed_dims=(8, 16, 32, 64), depths=(1, 1, 2, 1),
         num_heads=(1, 2, 4, 8), mlp_ratios=(4, 4, 4, 4),
         has_msa=(0, 0, 1, 1), position='relative'),
    'LIT-Ti':  # LIT-Ti style: position embeddings, class token (a LIT)
    dict(embed_dims=(8, 16, 24, 32), depths=(1, 1, 2, 1),
         num_heads=(1, 2, 3, 4), mlp_ratios=(8, 8, 4, 4),
         has_msa=(0, 0, 1, 1), position='absolute', norm_eps=1e-6),
    'LITv2':  # staged: 4 stages, 5 blocks + 3 token mergings
    dict(embed_dims=8, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8),
         window_sizes=(0, 0, 2, 1)),
    'SReT':  # staged: 3 stages, 4 recursive units + 2 poolings
    dict(embed_dims=(8, 16, 32), num_heads=(1, 2, 4), depths=(2, 1, 1),
         groups1=(4, 2, 1), groups2=(2, 1, 1), mlp_ratio=2.,
         np_mlp_ratio=1.),
    'DHVT':  # SOPE of patch 4 (2 convs)
    dict(embed_dims=32, num_layers=3, num_heads=4, patch_size=4),
    'XCiT':  # 2 stride-2 convs (patch 4), 16 x 16 images: a 4 x 4 grid
    dict(embed_dims=32, num_layers=3, num_heads=4, patch_size=4,
         init_values=0.5, tokens_norm=False, mlp_ratio=2.),
}
#: The other constructor arguments of the tiny models: 32 x 32 images and a
#: 4 x 4 patch grid (PatchConvNet: 16 x 16 images).
TINY_KWARGS = {
    'DeiT': dict(img_size=32, patch_size=8),
    'ArchNetViT': dict(img_size=32, patch_size=8),
    'CaiT': dict(img_size=32, patch_size=8),
    'ResMLP': dict(img_size=32, patch_size=8),
    'PatchConvNet': dict(patch_size=4),
    # 16 x 16 images, a 4 x 4 token grid (tokenizer stride 4); bicubic as
    # the contract's reference resize (CCT's default is the official
    # bilinear)
    'CCT': dict(img_size=16, interpolate_mode='bicubic'),
    'ConViT': dict(img_size=32, patch_size=8),
    'LeViT': dict(img_size=96),  # attention biases of 6x6, 3x3, 2x2 grids
    'CvT': dict(),
    'PiT': dict(img_size=32),
    'CMT': dict(img_size=64),  # position biases for 64 x 64 images
    'HATNet': dict(),
    'RevCol': dict(reversible=False),  # reversible: test_revcol.py
    'InternImage': dict(),
    'GhostNet': dict(),
    'GGhostRegNet': dict(),
    'ArchNetResNet': dict(max_conv_in=32),
    'ArchNetResNet-bottleneck': dict(max_conv_in=64),
    'LIT': dict(img_size=64),  # relative-position tables of 64 x 64
    'LIT-Ti': dict(img_size=64),  # position embeddings of 64 x 64
    'LITv2': dict(),
    'SReT': dict(img_size=64),  # a position embedding of 8 x 8
    'DHVT': dict(),
    'XCiT': dict(),
}
#: The DeiT III settings of a DeiT arch dict.
DEIT3_SETTINGS = dict(
    layer_scale_init_value=1e-4,
    drop_path_mode='uniform',
    pos_embed_extra_tokens=False)


def build_tiny(cls, seed: int = 0, init: bool = True, **kwargs):
    """The tiny model of backbone class ``cls``: seeded, initialised.

    Args:
        cls (type): A backbone class with an entry in :data:`TINY_ARCHS`.
        seed (int): ``torch.manual_seed`` before building. Defaults to 0.
        init (bool): Call ``init_weights()``. Defaults to True.
        **kwargs: Constructor arguments overriding the tiny ones (``arch``
            too).
    """
    name = cls.__name__
    cfg = dict(TINY_KWARGS[name], arch=TINY_ARCHS[name])
    cfg.update(kwargs)
    torch.manual_seed(seed)
    model = cls(**cfg)
    if init:
        model.init_weights()
    return model


def distiller_settings(distiller):
    """A config's ``model.distiller`` as :class:`ConfigurableDistiller`
    arguments (recorders, connectors, losses, loss_inputs): the config
    itself, or, for a distiller type that builds its own (one with a
    ``settings`` method, e.g. ``mmvitplug.ArchNetResNetDistiller``), what it
    builds."""
    from mmengine.config import ConfigDict

    from mmvitplug.registry import MODELS
    kind = distiller.get('type', 'mmvitplug.ConfigurableDistiller')
    cls = MODELS.get(kind)
    if not hasattr(cls, 'settings'):
        return distiller
    return ConfigDict(cls.settings(
        **{k: v for k, v in distiller.items() if k != 'type'}))
