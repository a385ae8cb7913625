# Copyright (c) mmvitplug contributors.
"""The model index as mmpretrain's APIs see it: importing the plugin
registers our classification and self-supervised models with ``ModelHub``,
``list_models`` / ``get_model`` / ``ImageClassificationInferencer`` work on
them, with an official checkpoint converted by our tool."""
import os.path as osp
import warnings

import numpy as np
import pytest
import torch

import mmvitplug  # noqa: F401  (registers the index)
from mmvitplug.utils import zoo
from _builders import REPO_ROOT, load_tool

DIGIT_IMAGE = osp.join(REPO_ROOT, 'data', 'bundled', 'digits', 'val', '7',
                       '0017.png')
DEIT_TINY = 'sup-deit-tiny_8xb128_in1k'
DIGITS_CCT = 'sup-cct-6l128d-p4_1xb64_digits'


def mmpretrain_names():
    """The names of mmpretrain's own index (read apart from ModelHub)."""
    from importlib_metadata import distribution
    from modelindex.load_model_index import load
    root = distribution('mmpretrain').locate_file('mmpretrain')
    index = load(str(root / '.mim' / 'model-index.yml'))
    index.build_models_with_collections()
    return {m.name.lower() for m in index.models}


def test_index_registers_cleanly():
    """The first use of mmpretrain's ModelHub registers the shipped index,
    without a warning, every classification / self-supervised model of it
    and only those; names are unique, lower case and disjoint from
    mmpretrain's."""
    import mmpretrain
    from mmpretrain.apis import ModelHub
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        mmpretrain.list_models()
    index = zoo.load_model_index()
    names = [m.name for m in index.models]
    assert len(names) == len(set(names)), 'duplicate model names'
    assert all(n == n.lower() for n in names)
    assert not set(names) & mmpretrain_names()
    expected = {
        m.name
        for m in index.models if zoo.model_task(m) in zoo.MMPRETRAIN_TASKS
    }
    assert set(zoo._registered) == expected
    assert all(ModelHub.has(n) for n in expected)
    dense = {m.name for m in index.models} - expected
    assert dense, 'detection / segmentation models are in the index too'
    assert not any(ModelHub.has(n) for n in dense)
    # registering twice is refused: a name is never silently replaced
    with pytest.raises(ValueError, match='already registered'):
        zoo.register_model_index()


def test_importing_the_plugin_registers_lazily():
    """Importing mmvitplug reads no index (it costs nothing); the first
    ModelHub use registers ours after mmpretrain's."""
    import subprocess
    import sys
    code = ('import mmvitplug; from mmvitplug.utils import zoo; '
            'n0 = len(zoo._registered); import mmpretrain; '
            'mmpretrain.get_model("sup-deit-tiny_8xb128_in1k"); '
            'print(n0, len(zoo._registered))')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split()[-2:])
    assert before == 0 and after == len(
        [m for m in zoo.load_model_index().models
         if zoo.model_task(m) in zoo.MMPRETRAIN_TASKS])


def test_list_models_finds_ours_next_to_mmpretrains():
    import mmpretrain
    xcit = mmpretrain.list_models('*xcit*')
    assert any(n.startswith('xcit-') for n in xcit)  # mmpretrain's
    ours = [n for n in xcit if n in zoo._registered]
    assert ours and all('xcit' in n for n in ours)
    assert DEIT_TINY in mmpretrain.list_models('*deit-tiny*')
    assert DIGITS_CCT in mmpretrain.list_models(task='Image Classification')


def test_registered_configs_exist():
    from mmpretrain.apis import ModelHub
    for name in zoo._registered:
        path = ModelHub._models_dict[name].config
        assert osp.isfile(path), (name, path)


def test_get_model_with_a_converted_official_checkpoint(tmp_path):
    """get_model(name, pretrained=CKPT) on a timm-layout DeiT-Ti converted
    by tools/model_converters/convert.py gives timm's logits."""
    import timm
    from mmpretrain import get_model
    torch.manual_seed(0)
    ref = timm.create_model('deit_tiny_patch16_224', pretrained=False).eval()
    with torch.no_grad():  # no zero-initialised tensors: all must load
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    src, dst = tmp_path / 'timm.pth', tmp_path / 'converted.pth'
    torch.save(ref.state_dict(), src)
    load_tool('model_converters/convert.py').main(
        ['DeiT', str(src), str(dst)])
    model = get_model(DEIT_TINY, pretrained=str(dst))
    assert model._metainfo.name == DEIT_TINY
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        ours = model(x, mode='tensor')
        if isinstance(ours, (list, tuple)):
            ours = ours[-1]
        torch.testing.assert_close(ours, ref(x), atol=1e-4, rtol=1e-4)
    # without a checkpoint the weights differ (the test can fail)
    fresh = get_model(DEIT_TINY)
    with torch.no_grad():
        assert not torch.allclose(fresh(x, mode='tensor'), ref(x), atol=1e-2)


def test_inferencer_on_a_bundled_image(tmp_path):
    """ImageClassificationInferencer by model name on a bundled digit: the
    config's test pipeline, the checkpoint's class names, and the same
    scores as the model on the preprocessed image."""
    from mmengine.dataset import Compose
    from mmpretrain import ImageClassificationInferencer, get_model
    torch.manual_seed(0)
    model = get_model(DIGITS_CCT)
    with torch.no_grad():  # make class '3' win on every image
        model.head.fc.bias.zero_()
        model.head.fc.bias[3] = 20.
    classes = [f'digit {i}' for i in range(10)]
    ckpt = tmp_path / 'digits.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=classes))), ckpt)
    inferencer = ImageClassificationInferencer(
        DIGITS_CCT, pretrained=str(ckpt), device='cpu')
    result = inferencer(DIGIT_IMAGE)[0]
    assert result['pred_label'] == 3
    assert result['pred_class'] == 'digit 3'
    # the scores = the model on the config's test pipeline output
    from mmengine.registry import DefaultScope
    cfg = model._config
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
        data = pipeline(dict(img_path=DIGIT_IMAGE))
    batch = model.data_preprocessor(
        dict(inputs=[data['inputs']], data_samples=[data['data_samples']]))
    with torch.no_grad():
        logits = model(batch['inputs'], mode='tensor')
    np.testing.assert_allclose(
        result['pred_scores'],
        logits.softmax(-1)[0].numpy(),
        rtol=1e-5,
        atol=1e-6)
