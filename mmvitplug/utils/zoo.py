# Copyright (c) mmvitplug contributors.
"""The model zoo: where the model index is, registering it with mmpretrain's
``ModelHub``, and the results files the tools write.

See ``docs/model_zoo.md`` for the metafile and results schemas.
"""
import datetime
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Union

# Tasks whose configs build an mmpretrain model (``get_model`` builds them in
# the ``mmpretrain`` scope); detection and segmentation models are in the
# index for ``mim search`` only.
MMPRETRAIN_TASKS = ('Image Classification', 'Self-supervised Learning')
KNOWN_TASKS = MMPRETRAIN_TASKS + ('Object Detection', 'Instance Segmentation',
                                  'Semantic Segmentation')
RESULT_KINDS = ('value', 'values', 'range')


def package_root() -> str:
    """The directory of the ``mmvitplug`` package, links resolved (an
    editable install is also reached through a link in site-packages, made
    for ``mim``; the files are the clone's)."""
    return osp.dirname(osp.dirname(osp.realpath(__file__)))


def zoo_root() -> Optional[str]:
    """The directory holding ``model-index.yml`` and ``configs/``.

    An installed wheel ships them in ``mmvitplug/.mim`` (OpenMMLab's layout);
    an editable install has ``.mim`` linking into the clone, or the clone's
    root next to the package. None when neither exists.
    """
    pkg = package_root()
    for root in (osp.join(pkg, '.mim'), osp.dirname(pkg)):
        if osp.isfile(osp.join(root, 'model-index.yml')):
            return root
    return None


def load_model_index(root: Optional[str] = None):
    """The model index (``modelindex.ModelIndex``) with every model merged
    with its collection."""
    from modelindex.load_model_index import load
    root = root or zoo_root()
    if root is None:
        raise FileNotFoundError(
            'mmvitplug: no model-index.yml next to the package nor in '
            f'{osp.join(package_root(), ".mim")}; reinstall mmvitplug '
            '(pip install -e . from the clone)')
    index = load(osp.join(root, 'model-index.yml'))
    index.build_models_with_collections()
    return index


def model_task(metainfo) -> Optional[str]:
    """The first task of a model's results (None without results)."""
    results = metainfo.results
    if not results:
        return None
    return results[0].task


def model_name_of(config: str, root: Optional[str] = None) -> str:
    """The index's name of the model of a config file (its stem, or
    ``<folder>/<stem>`` for a stem used in several folders): the subject
    under which tools record its results."""
    root = root or zoo_root()
    target = osp.realpath(config)
    for metainfo in load_model_index(root).models:
        if osp.realpath(osp.join(root, metainfo.config)) == target:
            return metainfo.name
    raise ValueError(f'{config} is not a model of the index '
                     f'({osp.join(root, "model-index.yml")}): add it to its '
                     'family\'s metafile')


_registered = []


def register_model_index(root: Optional[str] = None) -> List[str]:
    """Register our classification and self-supervised models with
    mmpretrain's ``ModelHub``.

    Then ``mmpretrain.list_models('*xcit*')``, ``get_model(name,
    pretrained=CKPT)`` and the inferencers find them. ModelHub calls it
    once, after reading its own index, on its first use
    (:func:`register_at_import`, installed when ``mmvitplug`` is imported).
    Names are lower case and must not clash with mmpretrain's own
    (``tests/zoo/test_model_index.py`` checks both).

    Returns:
        list[str]: the names registered by this call.
    """
    from mmpretrain.apis import ModelHub
    root = root or zoo_root()
    if root is None:
        warnings.warn('mmvitplug: model-index.yml not found; our models are '
                      'not registered with mmpretrain.ModelHub')
        return []
    index = load_model_index(root)
    names = []
    for metainfo in index.models:
        if model_task(metainfo) not in MMPRETRAIN_TASKS:
            continue
        name = metainfo.name.lower()
        if name != metainfo.name:
            raise ValueError(f'model names must be lower case: '
                             f'{metainfo.name!r} in {metainfo.filepath}')
        # ModelHub has no public way to add a model without re-reading a
        # whole index; the same checks as its register_model_index.
        if ModelHub.has(name):
            raise ValueError(f'model name {name!r} of {metainfo.filepath} '
                             'is already registered with mmpretrain.ModelHub')
        metainfo.config = osp.join(root, metainfo.config)
        ModelHub._models_dict[name] = metainfo
        names.append(name)
    _registered.extend(names)
    return names


def register_at_import():
    """Make mmpretrain's ``ModelHub`` register our index right after its
    own, the first time it is used (``list_models``, ``get_model``, the
    inferencers), so that importing the plugin costs nothing. ModelHub reads
    its own index lazily through ``_register_mmpretrain_models``; that hook
    is wrapped once. An error in our index becomes a warning there: a broken
    index must not break mmpretrain's models (the tests check that the
    shipped index registers cleanly)."""
    from mmpretrain.apis import ModelHub
    original = ModelHub._register_mmpretrain_models
    if getattr(original, '_mmvitplug', False):
        return

    def _register_mmpretrain_models(cls):
        original()
        if _state['tried']:
            return
        _state['tried'] = True
        try:
            register_model_index()
        except Exception as err:  # noqa: BLE001
            warnings.warn(f'mmvitplug: the model index could not be '
                          f'registered with mmpretrain.ModelHub: '
                          f'{type(err).__name__}: {err}')

    _register_mmpretrain_models._mmvitplug = True
    ModelHub._register_mmpretrain_models = classmethod(
        _register_mmpretrain_models)


_state = dict(tried=False)


# ----------------------------------------------------------------- results
def results_dir(root: Optional[str] = None) -> str:
    """``docs/zoo/results`` of the clone (results are written in a clone)."""
    return osp.join(root or osp.dirname(package_root()), 'docs', 'zoo',
                    'results')


def _load_yaml(path):
    import yaml
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return yaml.safe_load(f) or {}


def load_results(family: Optional[str] = None,
                 root: Optional[str] = None) -> Dict[str, dict]:
    """Results of one family, or of all families merged (subject -> metric
    -> record). A subject recorded in two families' files is an error."""
    folder = results_dir(root)
    if family is not None:
        return _load_yaml(osp.join(folder, f'{family}.yml'))
    merged = {}
    if not osp.isdir(folder):
        return merged
    for name in sorted(os.listdir(folder)):
        if not name.endswith('.yml'):
            continue
        for subject, metrics in _load_yaml(osp.join(folder, name)).items():
            if subject in merged:
                raise ValueError(f'results subject {subject!r} is recorded '
                                 f'in two results files ({name} and another)')
            merged[subject] = metrics
    return merged


def record_result(family: str,
                  subject: str,
                  metric: str,
                  *,
                  tool: str,
                  value: Optional[float] = None,
                  values: Optional[Dict[Union[int, str], float]] = None,
                  range: Optional[List[float]] = None,  # noqa: A002
                  note: Optional[str] = None,
                  transcribed: Optional[str] = None,
                  root: Optional[str] = None) -> dict:
    """Write one measured result to ``docs/zoo/results/<family>.yml``.

    Args:
        family (str): The config folder of the family or method
            (``deit``, ``dino``, ...).
        subject (str): What was measured: a model name of the index (a
            config stem) or ``<arch>@<reference>`` for a comparison.
        metric (str): e.g. ``accuracy/top1``, ``knn/top1_k20``,
            ``speed/infer`` (ratio to the reference).
        tool (str): The tool that measured it (its repository path).
        value / values / range: Exactly one: a number, numbers per seed
            (``{seed: number}``; merged with the seeds the same tool
            recorded, replacing a record of another source), or
            ``[low, high]`` over repeated runs.
        note (str, optional): What the number needs to be read right.
        transcribed (str, optional): Where a number measured before the tools
            recorded results was copied from; the tables mark it.
        root (str, optional): The clone (default: the package's).

    Returns:
        dict: The record written.
    """
    import yaml
    given = [k for k, v in (('value', value), ('values', values),
                            ('range', range)) if v is not None]
    if len(given) != 1:
        raise ValueError('record_result needs exactly one of value, values, '
                         f'range; got {given or "none"}')
    path = osp.join(results_dir(root), f'{family}.yml')
    data = _load_yaml(path)
    record = dict(data.get(subject, {}).get(metric, {}))
    for kind in RESULT_KINDS:
        if kind != given[0]:
            record.pop(kind, None)
    if values is not None:
        # seeds of one tool's runs accumulate; a record by another tool or
        # transcribed from elsewhere is replaced, never mixed with them
        same_source = (record.get('tool') == tool
                       and record.get('transcribed') == transcribed)
        merged = dict(record.get('values') or {}) if same_source else {}
        merged.update({int(k): float(v) for k, v in values.items()})
        record['values'] = dict(sorted(merged.items()))
    elif value is not None:
        record['value'] = float(value)
    else:
        if len(range) != 2 or range[0] > range[1]:
            raise ValueError(f'range must be [low, high], got {range}')
        record['range'] = [float(range[0]), float(range[1])]
    record['tool'] = tool
    record['date'] = datetime.date.today().isoformat()
    for key, val in (('note', note), ('transcribed', transcribed)):
        if val is not None:
            record[key] = val
        else:
            record.pop(key, None)
    data.setdefault(subject, {})[metric] = record
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('# Written by the tools (mmvitplug.utils.zoo.record_result);'
                ' see docs/model_zoo.md.\n')
        yaml.safe_dump(data, f, sort_keys=True, allow_unicode=True)
    return record


def add_record_arguments(parser, what: str, subject: bool = False) -> None:
    """``--record FAMILY`` (or ``--record FAMILY SUBJECT`` with ``subject``)
    and the hidden ``--results-root`` of the tests, of a tool that writes
    its numbers to the results; ``what`` says which numbers under which
    subjects."""
    import argparse
    names = dict(nargs=2, metavar=('FAMILY', 'SUBJECT')) if subject else \
        dict(metavar='FAMILY')
    parser.add_argument(
        '--record', default=None, **names,
        help=f'write {what} to the model zoo\'s results '
        '(docs/zoo/results/FAMILY.yml)')
    parser.add_argument('--results-root', default=None,
                        help=argparse.SUPPRESS)


def device_tag(device) -> str:
    """The suffix that tells a metric measured on a GPU: none for a
    non-CUDA device, else ``_<gpu>``, the last word of the GPU's name in
    lower case (e.g. ``_h200``)."""
    import torch
    device = torch.device(device)
    if device.type != 'cuda':
        return ''
    return '_' + torch.cuda.get_device_name(device).split()[-1].lower()


def result_numbers(record: dict) -> List[float]:
    """The numbers of a record: its per-seed values, its value, or its
    range's ends."""
    if 'values' in record:
        return [float(v) for v in record['values'].values()]
    if 'value' in record:
        return [float(record['value'])]
    if 'range' in record:
        return [float(v) for v in record['range']]
    raise ValueError(f'a result record needs one of {RESULT_KINDS}: {record}')
