# Copyright (c) mmvitplug contributors.
"""Every shipped config loads, imports the plugin, builds its model, states
its source, inherits only from its own family and the shared bases, and is
what its file name claims."""
import ast
import glob
import os.path as osp
import re
from types import SimpleNamespace

import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmvitplug.utils import bundled_data, check_plugin_imports
from _builders import REPO_ROOT, WRAPPERS, distiller_settings

ROOT = REPO_ROOT
CONFIG_ROOT = osp.join(ROOT, 'configs')
#: every config file, shared bases and teachers included
ALL_FILES = sorted(
    glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True))
#: the configs a user trains (not under _base_/ or _teachers/)
CONFIGS = [
    p for p in ALL_FILES if not any(
        part.startswith('_')
        for part in osp.relpath(p, CONFIG_ROOT).split(osp.sep))
]
#: folders any config may inherit from, besides its own folder
SHARED = ('_base_', '_teachers')
UPSTREAM = ('mmdet::', 'mmseg::', 'mmpretrain::')


def _ids(paths):
    return [osp.relpath(p, osp.join(ROOT, 'configs')) for p in paths]


def test_there_are_configs():
    assert len(CONFIGS) >= 10


def check_sampler_arguments(cfg):
    """Every sampler argument is one its class takes: a child config that
    swaps the base's ``RepeatAugSampler`` for a ``DefaultSampler`` without
    ``_delete_`` would keep ``num_repeats`` and fail to build."""
    import inspect

    from mmengine.registry import DATA_SAMPLERS
    with DATA_SAMPLERS.switch_scope_and_registry(
            cfg.default_scope) as registry:
        for split in ('train_dataloader', 'val_dataloader',
                      'test_dataloader'):
            sampler = (cfg.get(split) or {}).get('sampler')
            if not sampler:
                continue
            cls = registry.get(sampler['type'])
            assert cls is not None, (split, sampler['type'])
            params = inspect.signature(cls).parameters
            unknown = set(sampler) - {'type', '_scope_'} - set(params)
            assert not unknown, f'{split}: {cls.__name__} takes no {unknown}'


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_builds(path, monkeypatch):
    cfg = Config.fromfile(path)
    name = osp.basename(path)[:-3]
    algo_arch, schedule, data = name.split('_')[:3]
    assert 'xb' in schedule, f'{name}: expected {{algo}}-{{arch}}_NxbB_data'
    assert cfg.default_scope in ('mmpretrain', 'mmdet', 'mmseg')
    check_plugin_imports(cfg, path)
    assert 'mmvitplug' in cfg.custom_imports.imports
    check_sampler_arguments(cfg)

    model_cfg = cfg.model
    if model_cfg.get('teacher_ckpt'):
        # the teacher checkpoint is a training artefact (tests/methods load
        # real ones): the teacher is built but not loaded here
        from mmvitplug.models.distill import teacher as teacher_module
        monkeypatch.setattr(
            teacher_module, 'load_teacher',
            lambda model, ckpt: SimpleNamespace(num_loaded=0))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        init_default_scope(cfg.default_scope)
        from mmengine.registry import MODELS
        model = MODELS.build(model_cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_train_tool_names_missing_custom_imports(tmp_path, repo_root):
    import subprocess
    import sys
    cfg = tmp_path / 'no_imports.py'
    cfg.write_text("default_scope = 'mmpretrain'\n"
                   "model = dict(type='ImageClassifier', "
                   "backbone=dict(type='mmvitplug.DeiT', arch='deit-tiny'))\n")
    proc = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'train.py'), str(cfg)],
        capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode != 0
    assert 'does not import the plugin' in proc.stderr
    assert ("custom_imports = dict(imports=['mmvitplug'], "
            'allow_failed_imports=False)') in proc.stderr


# ---------------------------------------------------------------------------
# inheritance: own family, shared bases, upstream bases only


def _bases(path):
    """The ``_base_`` entries of a config file, read without executing it."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_'
                for t in node.targets):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def illegal_bases(path, config_root):
    """The ``_base_`` entries of ``path`` that cross families.

    A config may inherit from configs in its own folder (its family: e.g.
    ``configs/cait/`` or ``configs/bundled/cait/``), from the shared
    ``configs/_base_/`` and ``configs/_teachers/`` and from upstream bases
    (``mmdet::``, ``mmseg::``, ``mmpretrain::``). Shared files inherit only
    from shared or upstream files.
    """
    shared = [osp.join(config_root, d) for d in SHARED]
    in_shared = any(
        osp.commonpath([path, d]) == d for d in shared)
    bad = []
    for base in _bases(path):
        if '::' in base:
            if not base.startswith(UPSTREAM):
                bad.append(base)
            continue
        target = osp.normpath(osp.join(osp.dirname(path), base))
        if not osp.isfile(target):
            bad.append(f'{base} (no such file)')
        elif any(osp.commonpath([target, d]) == d for d in shared):
            continue
        elif in_shared or osp.dirname(target) != osp.dirname(path):
            bad.append(base)
    return bad


@pytest.mark.parametrize('path', ALL_FILES, ids=_ids(ALL_FILES))
def test_no_inheritance_across_families(path):
    bad = illegal_bases(path, CONFIG_ROOT)
    assert not bad, (
        f'{path} inherits across families: {bad}; move what is shared to '
        'configs/_base_/ (datasets, models, schedules, common) or '
        'configs/_teachers/')


def test_cross_family_inheritance_is_caught(tmp_path):
    root = tmp_path / 'configs'
    for d in ('_base_/models', 'deit', 'cait'):
        (root / d).mkdir(parents=True)
    (root / '_base_/models/skeleton.py').write_text('model = dict()\n')
    (root / 'deit/a.py').write_text('model = dict()\n')
    (root / 'deit/b.py').write_text(
        "_base_ = ['./a.py', '../_base_/models/skeleton.py', "
        "'mmdet::_base_/default_runtime.py']\n")
    (root / 'cait/c.py').write_text("_base_ = '../deit/a.py'\n")
    (root / '_base_/models/d.py').write_text("_base_ = ['../../deit/a.py']\n")
    assert illegal_bases(str(root / 'deit/b.py'), str(root)) == []
    assert illegal_bases(str(root / 'cait/c.py'), str(root)) == [
        '../deit/a.py'
    ]
    assert illegal_bases(str(root / '_base_/models/d.py'), str(root)) == [
        '../../deit/a.py'
    ]


# ---------------------------------------------------------------------------
# every config a user may cite states its source


@pytest.mark.parametrize('path', ALL_FILES, ids=_ids(ALL_FILES))
def test_config_states_its_source(path):
    rel = osp.relpath(path, CONFIG_ROOT).split(osp.sep)
    if rel[0] == '_base_':
        return  # pieces, documented where they are used
    with open(path) as f:
        header = []
        for line in f:
            if not line.startswith('#'):
                break
            header.append(line)
    assert any(line.startswith('# Source: ') for line in header), (
        f'{path}: the header comment has no "# Source: ..." line (paper '
        'table / official README / issue thread / "bundled-data smoke '
        'config, not a paper recipe")')


# ---------------------------------------------------------------------------
# the file name claims {algo}-{arch}_{N}xb{bs}_{data}

#: algorithm part of the name -> (model type, extra check)
ALGOS = {
    'sup': 'ImageClassifier',
    'distill-hard': 'mmvitplug.DistillationClassifier',
    'distill-soft': 'mmvitplug.DistillationClassifier',
    'cosub': 'mmvitplug.CoSubClassifier',
    'drloc': 'mmvitplug.DRLocClassifier',  # + DRLoc auxiliary loss
    'mask-rcnn': 'MaskRCNN',
    'cascade-mask-rcnn': 'CascadeRCNN',
    # RevCol's intermediate supervision (classifiers + image decoders)
    'intersup': 'mmvitplug.RevColClassifier',
    'upernet': 'EncoderDecoder',
    'semfpn': 'EncoderDecoder',  # Semantic FPN (XCiT)
    'knn': 'mmvitplug.EmbeddingModel',  # k-NN evaluation
    'knn-sobel': 'mmvitplug.EmbeddingModel',  # of a Sobel-input backbone
    'linear': 'ImageClassifier',  # linear probe of a frozen backbone
    'seer': 'mmvitplug.SEER',  # SwAV on RegNetY
    'snn': 'mmvitplug.EmbeddingModel',  # soft nearest neighbours (PAWS)
    'paws': 'mmvitplug.PAWS',
    'dino': 'mmvitplug.DINO',
    'deepcluster': 'mmvitplug.DeepCluster',
    'deepcluster-sobel': 'mmvitplug.DeepCluster',  # on Sobel input
    'deepercluster': 'mmvitplug.DeeperCluster',
    'macl-simclr': 'SimCLR',  # mmpretrain's, with mmvitplug.MACLHead
    'macl-mocov2': 'MoCo',
    'macl-mocov3': 'MoCoV3',  # with mmvitplug.MACLMoCoV3Head
    'upreid': 'mmvitplug.UPReID',
    'splitmask-pix': 'mmvitplug.SplitMask',  # + SplitMaskPixelTarget
    'splitmask-hog': 'mmvitplug.SplitMask',  # + SplitMaskHOGTarget
    # function matching: KL to the teacher only, one Mixup for both models;
    # '-inconsistent': the teacher sees another crop (two views)
    'fm': 'mmvitplug.DistillationClassifier',
    'fm-inconsistent': 'mmvitplug.DistillationClassifier',
    # single-image distillation: trained on patches of one image only
    'single-image': 'mmvitplug.DistillationClassifier',
    # locality guidance: CE + MSE of ViT blocks to CNN stage maps
    'lg': 'mmvitplug.DistillationClassifier',
    # divide and co-training: S equal students, one view each, CE each + a
    # JS term on all (arch: the students')
    'dct': 'mmvitplug.MutualClassifier',
    # TinyMIM: a student learns a frozen MAE teacher's attention relations
    # (no labels, no head); its teacher is pre-trained by mmpretrain's MAE
    'tinymim': 'mmvitplug.DistillationClassifier',
    # Bootstrapping ViTs: a ViT and its agent CNN trained together (CE, KD
    # both ways, decaying hint); '-shared': the CNN made of the ViT's
    # weights (arch: the ViT's)
    'bootstrap-joint': 'mmvitplug.MutualClassifier',
    'bootstrap-shared': 'mmvitplug.MutualClassifier',
    'mae': 'MAE',
    # SegFormer (mmseg's MiT + SegformerHead), and TransKD students of it
    # (CSF + HCL, patch-embedding alignment; -gl: the Global-Local Mixer on
    # stage 4, -ea: Embedding Assistants)
    'segformer': 'EncoderDecoder',
    'transkd-base': 'mmvitplug.DistillationSegmentor',
    'transkd-gl': 'mmvitplug.DistillationSegmentor',
    'transkd-ea': 'mmvitplug.DistillationSegmentor',
    # MixSKD: a classifier with auxiliary branches and a self-teacher head,
    # trained on each batch and its Mixup
    'mixskd': 'mmvitplug.MixSKDClassifier',
    # Arch-Net: a quantised student distilled output by output from a
    # full-precision teacher, without labels (-fp: every quantiser off;
    # -logits: the ablation distilling the logits only; -joint: the ablation
    # training every output from the first iteration); qat: a quantised
    # student trained with labels (its reference)
    'archnet': 'mmvitplug.ArchNetClassifier',
    'archnet-fp': 'mmvitplug.ArchNetClassifier',
    'archnet-logits': 'mmvitplug.ArchNetClassifier',
    'archnet-joint': 'mmvitplug.ArchNetClassifier',
    'qat': 'ImageClassifier',
    # softmax gradient tampering: a classifier whose head's loss is
    # mmvitplug.TamperedCrossEntropyLoss
    'sgt': 'ImageClassifier',
    'sgt-ls': 'ImageClassifier',  # with label smoothing
    # Mesa: a classifier converted by one mmvitplug.MesaHook (8-bit saved
    # activations)
    'mesa': 'ImageClassifier',
    # SoT: raw tokens to mmvitplug.SoTClsHead (class token + MGCrP)
    'sot': 'ImageClassifier',
    # DynamicViT: a DistillationClassifier of an mmvitplug.DynamicViT
    # backbone; -unpruned: its baseline, the plain ViT fine-tuned alike
    'dynamicvit': 'mmvitplug.DistillationClassifier',
    'dynamicvit-unpruned': 'mmvitplug.DistillationClassifier',
    'drnet': 'mmvitplug.DRNetClassifier',  # a resolution per image (DRNet)
    # SPViT: the search (a DistillationClassifier of an
    # mmvitplug.SPViTSupernet: CE + FLOPs loss), the fine-tuning of the
    # exported architecture (mmvitplug.SPViT) and its unpruned baseline
    'spvit-search': 'mmvitplug.DistillationClassifier',
    'spvit-finetune': 'ImageClassifier',
    'spvit-unpruned': 'ImageClassifier',
    # pruning of self-supervised networks: a DeepCluster run with an
    # mmvitplug.MagnitudePruningHook (-random: its random-mask baseline)
    'prune-deepcluster': 'mmvitplug.DeepCluster',
    'prune-random-deepcluster': 'mmvitplug.DeepCluster',
    'bimlp': 'ImageClassifier',  # BiMLP: binary (backbone binary=True)
    'bimlp-fp': 'ImageClassifier',  # its full-precision twin (binary=False)
    'ecoformer': 'ImageClassifier',  # an mmvitplug.EcoFormer backbone
}
#: self-supervised pretraining: may set no number of classes (if it sets
#: one, it must be the data's)
UNLABELLED_ALGOS = ('dino', 'deepcluster', 'deepcluster-sobel',
                    'prune-deepcluster', 'prune-random-deepcluster',
                    'deepercluster', 'macl-simclr',
                    'macl-mocov2', 'macl-mocov3', 'upreid', 'splitmask-pix',
                    'splitmask-hog', 'seer', 'tinymim', 'mae')
#: data part of the name -> number of classes
DATA_CLASSES = {
    'in1k': 1000,
    'in1k-1pct': 1000,  # labelled subsets (PAWS)
    'in1k-10pct': 1000,
    'digits-5shot': len(bundled_data.DIGIT_CLASSES),
    'in100': 100,  # ImageNet-100 (DRLoc)
    'market1501': 751,  # Market-1501 training identities (UP-ReID)
    'coco': 80,
    'ade20k': 150,
    'cityscapes-1024x512': 19,  # images resized to 1024x512 (TransKD)
    'digits': len(bundled_data.DIGIT_CLASSES),
    'shapes-coco': len(bundled_data.SHAPE_CLASSES),
    'shapes-ade': len(bundled_data.SHAPE_SEG_CLASSES),
    'cifar10': 10,
    'cifar100': 100,
    'ig1b': 0,  # 1B unlabelled Instagram images (SEER; private)
}
#: backbone type -> family words an arch name may start with
FAMILIES = {
    'mmvitplug.DeiT': ('deit', 'deit3'),
    'mmvitplug.CaiT': ('cait', ),
    'mmvitplug.LeViT': ('levit', ),
    'mmvitplug.ConViT': ('convit', ),
    'mmvitplug.ResMLP': ('resmlp', ),
    'mmvitplug.PatchConvNet': ('patchconvnet', ),
    'mmvitplug.CCT': ('cct', ),
    'mmvitplug.CvT': ('cvt', ),
    'mmvitplug.DHVT': ('dhvt', ),
    'mmvitplug.PiT': ('pit', ),
    'mmvitplug.CMT': ('cmt', ),
    'mmvitplug.HATNet': ('hatnet', ),
    'mmvitplug.LIT': ('lit', 'lit-ti'),
    'mmvitplug.LITv2': ('litv2', ),
    'mmvitplug.SReT': ('sret', ),
    'mmvitplug.XCiT': ('xcit', ),
    'mmvitplug.RegNetY': ('regnety', ),
    'mmvitplug.RevCol': ('revcol', ),
    'mmvitplug.InternImage': ('internimage', ),
    'mmvitplug.GhostNet': ('ghostnet', 'ghostnetv2'),
    'mmvitplug.BiMLP': ('bimlp', ),
    'mmvitplug.GGhostRegNet': ('g-ghost-regnetx', ),
    'ResNet': ('resnet', ),
    'mmvitplug.ArchNetResNet': ('resnet', ),  # Arch-Net's students
    'mmvitplug.ArchNetViT': ('deit', ),
    'ResNet_CIFAR': ('resnet', ),  # mmpretrain's 3x3-stem CIFAR ResNet
    'MAEViT': ('vit', ),  # mmpretrain's (MAE)
    'MixVisionTransformer': ('mit', ),  # mmseg's (SegFormer)
    # a timm model by its name, '_' written '-' (resnetv2-50x1-bit)
    'TIMMBackbone': (),
}
#: mmseg's MiT sizes (SegFormer B0-B5): first-stage dims, blocks per stage
MIT_ZOO = {
    'mit-b0': (32, [2, 2, 2, 2]),
    'mit-b1': (64, [2, 2, 2, 2]),
    'mit-b2': (64, [3, 4, 6, 3]),
    'mit-b3': (64, [3, 4, 18, 3]),
    'mit-b4': (64, [3, 8, 27, 3]),
    'mit-b5': (64, [3, 6, 40, 3]),
}
#: arch part of a bundled (arch dict) config: {family}-{L}l{D}d-p{P}
BUNDLED_ARCH = re.compile(r'(?P<family>[a-z0-9]+(?:-[a-z]+)*)-'
                          r'(?P<layers>\d+)l(?P<dims>\d+)d-p(?P<patch>\d+)')
NAME = re.compile(r'(?P<algo_arch>[a-z0-9.-]+)_(?P<gpus>\d+)xb(?P<batch>\d+)'
                  r'(?:-(?P<schedule>[a-z0-9-]+))?_(?P<data>[a-z0-9-]+)')
#: optional schedule after the batch (OpenMMLab's training info), for a
#: folder with one model on several schedules: '1x' / '3x' (mmdet's 12 / 36
#: epochs) or '{E}e'
SCHEDULE = re.compile(r'(?P<x>\d+)x|(?P<epochs>\d+)e')


def _lr_batches():
    """{config path relative to configs/: reference batch of its lr} from
    the recipes.yml files (tests/configs/test_recipes.py)."""
    batches = {}
    for path in glob.glob(osp.join(CONFIG_ROOT, '*', 'recipes.yml')):
        family = osp.basename(osp.dirname(path))
        with open(path) as f:
            for name, facts in yaml.safe_load(f).items():
                if 'lr_batch' in facts:
                    batches[f'{family}/{name}'] = facts['lr_batch']
    return batches


def _num_classes(cfg):
    """Every number of classes the config sets, by where it sets it."""
    model, found = cfg.model, {}
    for where in ('head', 'teacher.head', 'roi_head.bbox_head',
                  'roi_head.mask_head', 'decode_head', 'auxiliary_head',
                  'data_preprocessor'):
        node = model
        for key in where.split('.'):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and 'num_classes' in node:
            found[where] = node['num_classes']
    if 'num_classes' in cfg.get('data_preprocessor', {}):
        found['data_preprocessor'] = cfg.data_preprocessor.num_classes
    if 'classes' in cfg.get('metainfo', {}):
        found['metainfo.classes'] = len(cfg.metainfo.classes)
    for name, student in model.get('students', {}).items():
        if 'num_classes' in student.get('head', {}):
            found[f'students.{name}.head'] = student.head.num_classes
    return found


def _backbone_dims(backbone_cfg):
    """(layers, dims, patch) of a backbone config as built: its trunk layers
    (counted over the stages of a pyramid), the channels of its first
    stage and the stride of the first stage's tokens."""
    if backbone_cfg['type'] == 'MAEViT':  # mmpretrain's, an arch dict
        arch = backbone_cfg['arch']
        return (arch['num_layers'], arch['embed_dims'],
                backbone_cfg['patch_size'])
    from mmvitplug.registry import MODELS
    cfg = dict(backbone_cfg, type=backbone_cfg['type'].split('.', 1)[1])
    backbone = MODELS.build(cfg)
    dims = backbone.embed_dims
    if isinstance(dims, (list, tuple)):  # per stage
        dims = dims[0]
    return backbone.num_trunk_layers, dims, backbone.patch_size


def _zoo_arch_extended(backbone):
    """(zoo name, added keys) of an arch dict that has every setting of a
    zoo arch and adds only optional arch keys, or None."""
    from mmvitplug.registry import MODELS
    cls = MODELS.get(backbone.type.split('.', 1)[-1])
    optional = set(getattr(cls, 'optional_arch_keys', ()))
    for name, settings in getattr(cls, 'arch_zoo', {}).items():
        extra = set(backbone.arch) - set(settings)
        if extra <= optional and all(
                backbone.arch.get(k) == v for k, v in settings.items()):
            return name, sorted(extra)
    return None


def _function_matching_problems(cfg, algo):
    """Function matching: only a KL to the teacher, Mixup applied once by
    the multi-view preprocessor; two views exactly when inconsistent."""
    problems = []
    losses = [loss.type for loss in cfg.model.distiller.losses.values()]
    if losses != ['mmvitplug.KLDivergenceLoss']:
        problems.append(f'{algo}: distiller losses {losses}, not one KL')
    preprocessor = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor')
    if preprocessor.get('type') != 'mmvitplug.MultiViewClsDataPreprocessor':
        problems.append(f'{algo}: preprocessor {preprocessor.get("type")}')
    views = [
        t.num_views for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'MultiView'
    ]
    expected = [2] if algo == 'fm-inconsistent' else []
    if views != expected:
        problems.append(f'{algo}: MultiView views {views}, not {expected}')
    return problems


def _divide_co_train_problems(cfg):
    """Divide and co-training: equal students, a JS term on all their
    logits (warmed up by a LossWeightScheduleHook), one view per student
    through the multi-view preprocessor."""
    problems, model = [], cfg.model
    students = list(model.students.values())
    if any(s != students[0] for s in students):
        problems.append('dct: the students differ (one net divided into S '
                        'equal ones)')
    distiller = model.distiller
    js = [
        name for name, loss in distiller.losses.items()
        if loss.type == 'mmvitplug.JSDivergenceLoss'
    ]
    if len(js) != 1 or len(
            distiller.loss_inputs[js[0]].logits) != len(students):
        problems.append(f'dct: JS losses {js}, not one on every student')
    elif not any(h.get('type') == 'mmvitplug.LossWeightScheduleHook'
                 and h.get('loss') == js[0]
                 for h in cfg.get('custom_hooks', [])):
        problems.append(f'dct: no LossWeightScheduleHook warms up {js[0]}')
    preprocessor = model.get('data_preprocessor') or cfg.get(
        'data_preprocessor')
    if preprocessor.get('type') != 'mmvitplug.MultiViewClsDataPreprocessor':
        problems.append(f'dct: preprocessor {preprocessor.get("type")}')
    views = [
        t.num_views for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'MultiView'
    ]
    if views != [len(students)]:
        problems.append(f'dct: MultiView views {views}, not one per student '
                        f'({len(students)})')
    return problems


def _transkd_problems(distiller, algo):
    """TransKD: CSF + HCL on the stage maps, one patch-embedding loss per
    stage through a PEA projection, the GL-Mixer before the stage-4 one
    (-gl) or Embedding Assistants instead of the projections (-ea)."""
    problems = []
    connectors = {n: c.type for n, c in distiller.connectors.items()}
    if distiller.losses.loss_hcl.type != 'mmvitplug.HCLLoss' or \
            distiller.loss_inputs.loss_hcl.preds.connector != 'csf' or \
            connectors.get('csf') != 'mmvitplug.CSFConnector':
        problems.append(f'{algo}: no CSF + HCL loss on the stage maps')
    pea = sorted(n for n in distiller.losses if n.startswith('loss_pea'))
    if pea != [f'loss_pea{i}' for i in range(1, 5)]:
        problems.append(f'{algo}: patch-embedding losses {pea}')
    kinds = {
        'transkd-base': ['mmvitplug.LinearConnector'] * 4,
        'transkd-gl': ['mmvitplug.LinearConnector'] * 3 +
        ['mmvitplug.GLMixerConnector+mmvitplug.LinearConnector'],
        'transkd-ea': ['mmvitplug.EmbeddingAssistantConnector'] * 4,
    }[algo]
    built = []
    for name in pea:
        chain = distiller.loss_inputs[name].preds.connector
        chain = [chain] if isinstance(chain, str) else chain
        built.append('+'.join(connectors[c] for c in chain))
    if built != kinds:
        problems.append(f'{algo}: patch embeddings through {built}')
    return problems


def _archnet_problems(cfg, algo):
    """Arch-Net: quantised exactly unless -fp; one period loss
    (ArchNetLoss over every output, ArchNetViTLoss over a ViT's blocks)
    stepped by an ArchNetPeriodHook with a period per output / block, or
    over the logits only (-logits), or with every period but the last one
    iteration long (-joint); qat: a quantised student, no teacher."""
    problems = []
    model = cfg.model
    backbone, head = model.backbone, model.head
    bits = (backbone.get('w_bits', 2), backbone.get('a_bits', 4),
            head.get('w_bits', 8))
    quantised = all(b is not None for b in bits)
    if quantised == (algo == 'archnet-fp') or (
            algo == 'archnet-fp' and any(b is not None for b in bits)):
        problems.append(f'{algo}: (w_bits, a_bits, head w_bits) {bits}')
    if algo == 'qat':
        return problems
    distiller = distiller_settings(model.distiller)
    losses = [(loss.type, loss.get('num_outputs', loss.get('num_layers')))
              for loss in distiller.losses.values()]
    hooks = [h for h in cfg.get('custom_hooks', [])
             if h['type'] == 'mmvitplug.ArchNetPeriodHook']
    if algo == 'archnet-logits':
        if losses != [('mmvitplug.ArchNetLoss', 1)] or hooks:
            problems.append(f'{algo}: losses {losses}, period hooks {hooks}')
        return problems
    if backbone.type == 'mmvitplug.ArchNetViT':
        from mmvitplug.models.backbones import ArchNetViT
        arch = backbone.arch
        layers = (ArchNetViT.arch_zoo[arch] if isinstance(arch, str) else
                  arch)['num_layers']
        expected = ('mmvitplug.ArchNetViTLoss', layers)
        num_periods = layers + 2
    else:
        student = distiller.loss_inputs.loss_archnet.student
        expected = ('mmvitplug.ArchNetLoss', len(student))
        num_periods = len(student)
    if losses != [expected] or len(hooks) != 1 or \
            len(hooks[0]['periods']) != num_periods:
        problems.append(f'{algo}: losses {losses}, period hooks {hooks} '
                        f'for {num_periods} periods')
    elif (algo == 'archnet-joint') != (set(hooks[0]['periods'][:-1]) == {1}):
        problems.append(f'{algo}: periods {hooks[0]["periods"]}')
    return problems


def check_name_claims(path, cfg):
    """Problems between what the file name claims and what ``cfg`` builds."""
    name = osp.basename(path)[:-3]
    match = NAME.fullmatch(name)
    if match is None:
        return [f'{name}: expected {{algo}}-{{arch}}_{{N}}xb{{bs}}_{{data}}']
    problems = []
    algo_arch, data = match['algo_arch'], match['data']
    gpus, batch = int(match['gpus']), int(match['batch'])
    algos = [a for a in ALGOS if algo_arch.startswith(a + '-')]
    if not algos:
        return [f'{name}: algorithm not one of {sorted(ALGOS)}']
    algo = max(algos, key=len)  # deepcluster-sobel, not deepcluster
    arch = algo_arch[len(algo) + 1:]
    model = cfg.model
    # algorithm
    if model.type != ALGOS[algo]:
        problems.append(f'{algo} builds {model.type}, not {ALGOS[algo]}')
    if algo.startswith('distill-'):
        losses = list(model.distiller.losses.values())
        kind = algo.split('-')[1]
        if [loss.get('distill_type') for loss in losses] != [kind]:
            problems.append(f'{algo}: distiller losses {losses}')
    if algo in ('fm', 'fm-inconsistent'):
        problems += _function_matching_problems(cfg, algo)
    if algo == 'dct':
        problems += _divide_co_train_problems(cfg)
    if algo.startswith('bootstrap-'):
        shared = model.get('share_weights') == dict(cnn='vit')
        if shared != (algo == 'bootstrap-shared'):
            problems.append(f'{algo}: share_weights is '
                            f"{model.get('share_weights')}")
    sobel = (model.get('data_preprocessor') or {}).get('type') == \
        'mmvitplug.SobelDataPreprocessor'
    if sobel != algo.endswith('-sobel'):
        problems.append(f'{algo}: Sobel input is {sobel}, the name says '
                        f'{algo.endswith("-sobel")}')
    if algo == 'upernet' and model.decode_head.type != 'UPerHead':
        problems.append(f'upernet: decode head {model.decode_head.type}')
    if algo == 'semfpn' and model.decode_head.type != 'FPNHead':
        problems.append(f'semfpn: decode head {model.decode_head.type}')
    if algo in ('segformer', 'transkd-base', 'transkd-gl', 'transkd-ea') \
            and model.decode_head.type != 'SegformerHead':
        problems.append(f'{algo}: decode head {model.decode_head.type}')
    if algo.startswith('transkd-'):
        problems += _transkd_problems(model.distiller, algo)
    if algo.startswith('archnet') or algo == 'qat':
        problems += _archnet_problems(cfg, algo)
    if algo in ('sgt', 'sgt-ls'):
        loss = model.head.loss
        smoothed = loss.get('label_smooth_val', 0) > 0
        if loss.type != 'mmvitplug.TamperedCrossEntropyLoss' or \
                smoothed != (algo == 'sgt-ls'):
            problems.append(f'{algo}: head loss {loss}')
    if algo == 'mesa':
        hooks = [h for h in cfg.get('custom_hooks', [])
                 if h['type'] == 'mmvitplug.MesaHook']
        if len(hooks) != 1:
            problems.append(f'{algo}: MesaHooks {hooks}')
    if algo == 'sot' and (model.head.type != 'mmvitplug.SoTClsHead' or
                          model.backbone.get('out_type') != 'raw'):
        problems.append(f'{algo}: head {model.head.type}, backbone '
                        f"out_type {model.backbone.get('out_type')}")
    # arch: the backbone's, or the first student's (MutualClassifier)
    backbone = next(iter(model.students.values())).backbone \
        if 'students' in model else model.backbone
    if backbone.type in WRAPPERS:  # the wrapped plain ViT's arch
        backbone = backbone.backbone
    families = FAMILIES.get(backbone.type)
    if families is None:
        problems.append(f'unknown backbone type {backbone.type}: add it to '
                        'FAMILIES')
    elif backbone.type == 'TIMMBackbone':
        expected = backbone.model_name.replace('_', '-')
        if arch != expected:
            problems.append(f'arch {arch}, builds timm {expected}')
    elif backbone.type == 'MixVisionTransformer':
        dims, layers = backbone.embed_dims, list(backbone.num_layers)
        expected = next(
            (name for name, size in MIT_ZOO.items()
             if size == (dims, layers)),
            f'mit-{sum(layers)}l{dims}d-p{backbone.get("strides", [4])[0]}')
        if arch != expected:
            problems.append(f'arch {arch}, builds {expected}')
    elif backbone.type == 'mmvitplug.ArchNetResNet' and isinstance(
            backbone.arch, dict):
        # convolutions per block: 2 (basic) or 3 (bottleneck), + stem + fc
        units = 3 if backbone.arch.get('block') == 'bottleneck' else 2
        depth = units * sum(backbone.arch['depths']) + 2
        expected = f'resnet{depth}-w{backbone.arch["widths"][0]}'
        if arch != expected:
            problems.append(f'arch {arch}, builds {expected}')
    elif backbone.type in ('ResNet', 'ResNet_CIFAR'):
        width = backbone.get('base_channels', 64)  # ResNet's default
        cifar = '-cifar' if backbone.type == 'ResNet_CIFAR' else ''
        expected = f'resnet{backbone.depth}{cifar}-w{width}'
        if arch != expected:
            problems.append(f'arch {arch}, builds {expected}')
    elif isinstance(backbone.arch, str):
        # an arch without a size of its own (CvT) at the config's img_size
        sized = f'{backbone.arch}-{cfg.get("img_size")}'
        if arch not in (backbone.arch, sized):
            problems.append(f'arch {arch}, builds {backbone.arch}')
    elif (extended := _zoo_arch_extended(backbone)) is not None:
        # a zoo arch plus optional settings (the official detection
        # InternImage-T's layer scale) keeps the zoo name
        zoo_name, extra = extended
        if arch != zoo_name:
            problems.append(f'arch {arch}, builds {zoo_name} with {extra}')
    else:
        parts = BUNDLED_ARCH.fullmatch(arch)
        if parts is None or parts['family'] not in families:
            problems.append(
                f'arch {arch}: a custom arch is named '
                f'{{{"|".join(families)}}}-{{layers}}l{{dims}}d-p{{patch}}')
        else:
            built = _backbone_dims(backbone)
            claimed = tuple(
                int(parts[k]) for k in ('layers', 'dims', 'patch'))
            if built != claimed:
                problems.append(f'arch {arch}: builds (layers, dims, patch) '
                                f'{built}')
            if parts['family'] == 'deit3' and not backbone.get(
                    'layer_scale_init_value'):
                problems.append(f'arch {arch}: no DeiT III LayerScale')
            # LIT-Ti: the PVT-like LIT ('absolute' position embeddings)
            position = backbone.arch.get('position')
            if backbone.type == 'mmvitplug.LIT' and \
                    (parts['family'] == 'lit-ti') != (position == 'absolute'):
                problems.append(f'arch {arch}: position {position!r}')
    # data
    if data not in DATA_CLASSES:
        problems.append(f'data {data} not one of {sorted(DATA_CLASSES)}')
    else:
        found = _num_classes(cfg)
        if not found and algo not in UNLABELLED_ALGOS:
            problems.append('sets no number of classes')
        wrong = {k: v for k, v in found.items() if v != DATA_CLASSES[data]}
        if wrong:
            problems.append(f'{data} has {DATA_CLASSES[data]} classes, '
                            f'config: {wrong}')
    # batch
    # an evaluation-only config (k-NN) names its test batch
    loader, kind = (cfg.train_dataloader, 'train') \
        if cfg.get('train_dataloader') else (cfg.test_dataloader, 'test')
    if loader.batch_size != batch:
        problems.append(f'xb{batch}: {kind} batch size is '
                        f'{loader.batch_size}')
    # schedule
    if match['schedule']:
        found = SCHEDULE.fullmatch(match['schedule'])
        epochs = cfg.get('train_cfg', {}).get('max_epochs')
        if found is None:
            problems.append(f"schedule {match['schedule']}: expected "
                            '{k}x (12 k epochs) or {E}e')
        elif epochs != (12 * int(found['x']) if found['x'] else int(
                found['epochs'])):
            problems.append(f"schedule {match['schedule']}: train_cfg."
                            f'max_epochs is {epochs}')
    if 'auto_scale_lr' in cfg:
        rel = osp.relpath(path, CONFIG_ROOT).replace(osp.sep, '/')
        # the lr's reference batch where a recipe declares one, else N x bs
        expected = _lr_batches().get(rel, gpus * batch)
        if cfg.auto_scale_lr.base_batch_size != expected:
            problems.append(
                f'auto_scale_lr.base_batch_size '
                f'{cfg.auto_scale_lr.base_batch_size}, expected {expected}')
    return problems


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_is_what_its_name_claims(path):
    cfg = Config.fromfile(path)
    problems = check_name_claims(path, cfg)
    assert not problems, f'{osp.basename(path)}: {problems}'


@pytest.mark.parametrize('config,claimed,expected', [
    ('bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py',
     'sup-deit-tiny_1xb16_digits.py', 'custom arch'),
    ('bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py',
     'sup-deit-4l192d-p4_1xb16_digits.py', '(4, 192, 8)'),
    ('bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py',
     'sup-deit3-4l192d-p8_1xb16_digits.py', 'no DeiT III LayerScale'),
    ('bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py',
     'sup-cait-4l192d-p8_1xb16_digits.py', 'custom arch'),
    ('bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py',
     'sup-deit-4l192d-p8_1xb64_digits.py', 'train batch size is 16'),
    ('bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py',
     'sup-deit-4l192d-p8_1xb16_in1k.py', 'in1k has 1000 classes'),
    ('bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py',
     'cosub-deit-4l192d-p8_1xb16_digits.py', 'CoSubClassifier'),
    # Arch-Net: quantised unless -fp, progressive unless -logits
    ('bundled/archnet/archnet-resnet18-w32_1xb64_digits.py',
     'archnet-fp-resnet18-w32_1xb64_digits.py', 'head w_bits) (2, 4, 8)'),
    ('bundled/archnet/archnet-fp-resnet18-w32_1xb64_digits.py',
     'archnet-resnet18-w32_1xb64_digits.py', '(None, None, None)'),
    ('bundled/archnet/archnet-resnet18-w32_1xb64_digits.py',
     'archnet-logits-resnet18-w32_1xb64_digits.py', "26)], period hooks"),
    ('bundled/archnet/archnet-logits-resnet18-w32_1xb64_digits.py',
     'archnet-resnet18-w32_1xb64_digits.py', 'for 1 periods'),
    ('bundled/archnet/archnet-deit-4l192d-p8_1xb32_digits.py',
     'archnet-joint-deit-4l192d-p8_1xb32_digits.py', 'periods [45, 45'),
    ('bundled/archnet/archnet-joint-deit-4l192d-p8_1xb32_digits.py',
     'archnet-deit-4l192d-p8_1xb32_digits.py', 'periods [1, 1'),
    ('bundled/archnet/archnet-deit-4l192d-p8_1xb32_digits.py',
     'archnet-deit-6l192d-p8_1xb32_digits.py', 'builds (layers, dims, patch)'),
    ('bundled/archnet/archnet-resnet18-w32_1xb64_digits.py',
     'archnet-resnet18-w64_1xb64_digits.py', 'builds resnet18-w32'),
    ('bundled/resnet/sup-resnet18-w32_1xb64_digits.py',
     'sup-resnet18_1xb64_digits.py', 'builds resnet18-w32'),
    ('deit/sup-deit-tiny_8xb128_in1k.py', 'sup-deit-small_8xb128_in1k.py',
     'builds deit-tiny'),
    ('deit/distill-hard-deit-tiny_8xb128_in1k.py',
     'distill-soft-deit-tiny_8xb128_in1k.py', 'distiller losses'),
    ('bundled/deit/mask-rcnn-deit-4l96d-p16_1xb4_shapes-coco.py',
     'mask-rcnn-deit-4l96d-p16_2xb4_shapes-coco.py',
     'auto_scale_lr.base_batch_size 4, expected 8'),
    # LIT-Ti names an 'absolute' LIT, LIT a 'relative' one
    ('bundled/lit/sup-lit-8l32d-p4_1xb64_digits.py',
     'sup-lit-ti-8l32d-p4_1xb64_digits.py', "position 'relative'"),
    ('bundled/lit/sup-lit-ti-8l32d-p4_1xb64_digits.py',
     'sup-lit-8l32d-p4_1xb64_digits.py', "position 'absolute'"),
    # zoo names with a width multiplier (GhostNet's '1.0x')
    ('ghostnet/sup-ghostnet-1.0x_8xb128_in1k.py',
     'sup-ghostnet-1.3x_8xb128_in1k.py', 'builds ghostnet-1.0x'),
    ('bundled/g_ghost_regnet/sup-g-ghost-regnetx-4l16d-p4_1xb64_digits.py',
     'sup-g-ghost-regnetx-4l8d-p4_1xb64_digits.py', '(4, 16, 4)'),
    # an optional schedule after the batch: 1x = 12 epochs, 3x = 36
    ('internimage/mask-rcnn-internimage-t_8xb2-1x_coco.py',
     'mask-rcnn-internimage-t_8xb2-3x_coco.py', 'max_epochs is 12'),
    ('internimage/mask-rcnn-internimage-t_8xb2-3x_coco.py',
     'mask-rcnn-internimage-t_8xb2-36x_coco.py', 'max_epochs is 36'),
    ('internimage/mask-rcnn-internimage-t_8xb2-3x_coco.py',
     'mask-rcnn-internimage-t_8xb2-long_coco.py', 'schedule long'),
    # a zoo arch with added optional settings keeps (only) its zoo name
    ('internimage/mask-rcnn-internimage-t_8xb2-1x_coco.py',
     'mask-rcnn-internimage-s_8xb2-1x_coco.py',
     "builds internimage-t with ['layer_scale']"),
    # a MutualClassifier's arch is its students'
    ('bundled/divide_co_train/dct-deit-4l136d-p8_1xb16-30e_digits.py',
     'dct-deit-4l192d-p8_1xb16-30e_digits.py', '(4, 136, 8)'),
    ('divide_co_train/dct-resnet50-w64_8xb32_in1k.py',
     'dct-resnet50-w128_8xb32_in1k.py', 'builds resnet50-w64'),
    ('bundled/divide_co_train/dct-deit-4l136d-p8_1xb16-30e_digits.py',
     'sup-deit-4l136d-p8_1xb16-30e_digits.py', 'not ImageClassifier'),
    # a shared agent CNN is named so, and only it
    ('bundled/bootstrapping_vits/'
     'bootstrap-shared-deit-4l192d-p8_1xb16-15e_digits.py',
     'bootstrap-joint-deit-4l192d-p8_1xb16-15e_digits.py',
     "share_weights is {'cnn': 'vit'}"),
    ('bundled/bootstrapping_vits/'
     'bootstrap-joint-deit-4l192d-p8_1xb16-15e_digits.py',
     'bootstrap-shared-deit-4l192d-p8_1xb16-15e_digits.py',
     'share_weights is None'),
])
def test_name_claims_catch_mismatches(config, claimed, expected):
    path = osp.join(CONFIG_ROOT, config)
    cfg = Config.fromfile(path)
    assert check_name_claims(path, cfg) == []
    problems = check_name_claims(osp.join(osp.dirname(path), claimed), cfg)
    assert any(expected in p for p in problems), problems
