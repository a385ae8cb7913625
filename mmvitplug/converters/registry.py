# Copyright (c) mmvitplug contributors.
"""The converter registry: one official-layout converter per backbone type.

A converter is a pure function from an official checkpoint (the state dict
of the authors' repository or of timm) to mmvitplug classifier keys
(``backbone.*``, ``head.*``). It registers itself under the type name of
the mmvitplug backbone it serves (the class name, e.g. ``'DeiT'``) and
declares how to recognise its layout::

    @register_converter(
        'ConvNeXt', recognise=KeyLayout(r'stem\\.', r'stages\\.\\d+\\.'))
    def convert_convnext(state_dict):
        ...

:func:`mmvitplug.models.utils.load_pretrained` then finds the converter
from the module it loads into (its type, or its ``backbone`` child's) and
converts exactly the checkpoints its recogniser accepts; the converter CLI
``tools/model_converters/convert.py`` looks it up by name.

Every registered converter receives the state dict prepared in one place,
:func:`prepare_state_dict`: unwrapped from ``{'model': ...}`` /
``{'state_dict': ...}`` and with DDP's ``module.`` prefix removed.
"""
import functools
import re
from dataclasses import dataclass
from typing import Callable, Collection, Dict, List, Optional, Sequence, Union

import torch

StateDict = Dict[str, torch.Tensor]
#: A predicate over the keys of a (prepared) state dict.
Recogniser = Callable[[Collection[str]], bool]

#: Prefix that ``DistributedDataParallel`` puts before every key.
DDP_PREFIX = 'module.'

_REGISTRY: Dict[str, 'Converter'] = {}


def unwrap_state_dict(checkpoint: dict) -> dict:
    """Return the state dict inside a ``{'state_dict'|'model': ...}`` dict.

    Args:
        checkpoint (dict): A checkpoint or a state dict.

    Returns:
        dict: ``checkpoint['state_dict']`` (mmengine) or
        ``checkpoint['model']`` (official repositories) if it is a dict,
        else ``checkpoint`` itself.
    """
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), dict):
            return checkpoint[wrapper]
    return checkpoint


def strip_ddp_prefix(state_dict: dict) -> dict:
    """Remove DDP's ``module.`` prefix when every key has it.

    ``DistributedDataParallel`` prefixes every key of the model it wraps,
    so only a state dict whose keys all start with ``module.`` is changed:
    a model with a child that happens to be called ``module`` keeps its
    keys.

    Args:
        state_dict (dict): A state dict.

    Returns:
        dict: A new dict without the prefix (tensors shared), or
        ``state_dict`` itself.
    """
    if state_dict and all(k.startswith(DDP_PREFIX) for k in state_dict):
        return {k[len(DDP_PREFIX):]: v for k, v in state_dict.items()}
    return state_dict


def prepare_state_dict(checkpoint: dict) -> dict:
    """Unwrap a checkpoint and strip DDP's ``module.`` prefix, once.

    The single place where both happen, before any converter and before
    layout recognition.

    Args:
        checkpoint (dict): A checkpoint or a state dict.

    Returns:
        dict: The state dict (see :func:`unwrap_state_dict` and
        :func:`strip_ddp_prefix`).
    """
    return strip_ddp_prefix(unwrap_state_dict(checkpoint))


class KeyLayout:
    """Recognise a layout by key patterns.

    A key set is recognised when every ``required`` pattern matches at least
    one key and no ``forbidden`` pattern matches any key. Patterns are
    regular expressions matched at the start of a key (:func:`re.match`):
    ``r'stem\\.'`` matches ``stem.0.weight``; end a pattern with ``$`` to
    match whole keys only.

    Args:
        *required (str): Patterns that must each match some key.
        forbidden (Sequence[str]): Patterns that must match no key.
            Defaults to ().

    Example:
        >>> layout = KeyLayout(r'stem\\.', r'stages\\.\\d+\\.')
        >>> layout(['stem.0.weight', 'stages.0.blocks.0.conv_dw.weight'])
        True
        >>> layout(['backbone.stem.0.weight'])
        False
    """

    def __init__(self, *required: str, forbidden: Sequence[str] = ()):
        if not required:
            raise ValueError('KeyLayout needs at least one required pattern')
        if isinstance(forbidden, str):
            forbidden = (forbidden, )
        for pattern in (*required, *forbidden):
            if not isinstance(pattern, str):
                raise TypeError(f'KeyLayout patterns must be str, got '
                                f'{type(pattern).__name__}: {pattern!r}')
        self.required = tuple(required)
        self.forbidden = tuple(forbidden)
        self._required = [re.compile(p) for p in self.required]
        self._forbidden = [re.compile(p) for p in self.forbidden]

    def __call__(self, keys: Collection[str]) -> bool:
        keys = list(keys)
        return all(any(p.match(k) for k in keys) for p in self._required) \
            and not any(p.match(k) for p in self._forbidden for k in keys)

    def __or__(self, other: Recogniser) -> 'AnyLayout':
        return AnyLayout(self, other)

    def __repr__(self) -> str:
        text = ', '.join(repr(p) for p in self.required)
        if self.forbidden:
            text += f', forbidden={list(self.forbidden)!r}'
        return f'KeyLayout({text})'


class AnyLayout:
    """Recognise a key set that any of several recognisers accepts (e.g.
    the official and the timm layout of one model; ``a | b`` for
    :class:`KeyLayout` ``a``).

    Args:
        *recognisers (Callable): Predicates over a key set.
    """

    def __init__(self, *recognisers: Recogniser):
        if not recognisers or not all(callable(r) for r in recognisers):
            raise TypeError('AnyLayout needs one or more callables')
        self.recognisers = recognisers

    def __call__(self, keys: Collection[str]) -> bool:
        keys = list(keys)
        return any(r(keys) for r in self.recognisers)

    def __or__(self, other: Recogniser) -> 'AnyLayout':
        return AnyLayout(*self.recognisers, other)

    def __repr__(self) -> str:
        return ' | '.join(repr(r) for r in self.recognisers)


@dataclass(frozen=True)
class Converter:
    """A registered converter.

    Calling it converts a checkpoint (wrapped or not, with or without DDP's
    ``module.`` prefix); :meth:`recognises` tells whether a checkpoint is in
    its official layout.

    Attributes:
        name (str): Type name of the mmvitplug backbone it serves.
        fn (Callable): The converter as written; it takes a prepared state
            dict (see :func:`prepare_state_dict`).
        recognise (Callable): Predicate over the keys of a prepared state
            dict: whether they are in the official layout.
        function (Callable): The public function (e.g.
            :func:`mmvitplug.converters.convert_deit`): ``fn`` after
            :func:`prepare_state_dict`.
    """
    name: str
    fn: Callable[[StateDict], StateDict]
    recognise: Recogniser
    function: Callable[[dict], StateDict]

    def __call__(self, checkpoint: dict) -> StateDict:
        return self.fn(prepare_state_dict(checkpoint))

    def __repr__(self) -> str:
        return (f'Converter({self.name!r}, {self.fn.__module__}.'
                f'{self.fn.__qualname__}, recognise={self.recognise!r})')

    def recognises(self, checkpoint: Union[dict, Collection[str]]) -> bool:
        """Whether ``checkpoint`` is in this converter's official layout.

        Args:
            checkpoint (dict | Collection[str]): A checkpoint, a state dict
                or the keys of a prepared state dict.

        Returns:
            bool: What the declared recogniser says.
        """
        if isinstance(checkpoint, dict):
            checkpoint = prepare_state_dict(checkpoint)
        return bool(self.recognise(list(checkpoint)))


def _as_recogniser(recognise) -> Recogniser:
    if callable(recognise):
        return recognise
    if isinstance(recognise, str):
        return KeyLayout(recognise)
    if isinstance(recognise, (list, tuple)) and recognise and all(
            isinstance(p, str) for p in recognise):
        return KeyLayout(*recognise)
    raise TypeError(
        'recognise must be a predicate over the key set (e.g. a KeyLayout) '
        f'or a sequence of key patterns, got {recognise!r}')


def registered_converters() -> List[str]:
    """Sorted names of the registered converters (backbone type names)."""
    return sorted(_REGISTRY)


def _registered_name(name: str) -> Optional[str]:
    """The registered spelling of ``name``: exact, else case-insensitive,
    with an optional ``mmvitplug.`` scope."""
    if name.startswith('mmvitplug.'):
        name = name[len('mmvitplug.'):]
    if name in _REGISTRY:
        return name
    matches = [n for n in _REGISTRY if n.lower() == name.lower()]
    return matches[0] if matches else None


def register_converter(name: str, recognise: Union[Recogniser, str,
                                                   Sequence[str]]):
    """Decorator registering a converter for the backbone type ``name``.

    The decorated function ``fn(state_dict) -> state_dict`` receives a
    prepared state dict (see :func:`prepare_state_dict`); the decorator
    returns a function that prepares its argument first, so callers may pass
    ``{'model': ...}`` checkpoints and DDP-prefixed keys.

    Args:
        name (str): Type name (class name) of the mmvitplug backbone whose
            checkpoints it converts, e.g. ``'DeiT'``. Subclasses of that
            backbone use it too.
        recognise (Callable | str | Sequence[str]): How to recognise the
            official layout: a predicate over the keys of a prepared state
            dict (e.g. :class:`KeyLayout`, or ``KeyLayout(...) |
            KeyLayout(...)`` for several layouts), or patterns, shorthand
            for ``KeyLayout(*patterns)``.

    Returns:
        Callable: The decorator.

    Raises:
        ValueError: If ``name`` (in any letter case) is already registered.
        TypeError: If ``recognise`` is neither a predicate nor patterns.
    """
    if not isinstance(name, str) or not re.fullmatch(r'[A-Za-z_]\w*', name):
        raise ValueError(f'converter name must be a backbone type name such '
                         f"as 'DeiT', got {name!r}")
    recogniser = _as_recogniser(recognise)

    def decorator(fn: Callable[[StateDict], StateDict]):
        existing = _registered_name(name)
        if existing is not None:
            raise ValueError(
                f"A converter is already registered for '{existing}' "
                f'({_REGISTRY[existing].fn.__module__}.'
                f'{_REGISTRY[existing].fn.__qualname__}); unregister it '
                'first (unregister_converter) to replace it')

        @functools.wraps(fn)
        def function(checkpoint: dict) -> StateDict:
            return fn(prepare_state_dict(checkpoint))

        _REGISTRY[name] = Converter(name, fn, recogniser, function)
        return function

    return decorator


def unregister_converter(name: str) -> Converter:
    """Remove the converter registered for ``name`` and return it.

    Raises:
        KeyError: If no converter is registered for ``name``.
    """
    return _REGISTRY.pop(get_converter(name).name)


def get_converter(name: str) -> Converter:
    """The converter registered for a backbone type name.

    Args:
        name (str): A registered name, in any letter case, optionally with
            the ``mmvitplug.`` scope (``'DeiT'``, ``'deit'``,
            ``'mmvitplug.DeiT'``).

    Returns:
        Converter: The registered converter (callable).

    Raises:
        KeyError: If none is registered, naming the registered ones.
    """
    registered = _registered_name(name) if isinstance(name, str) else None
    if registered is None:
        raise KeyError(f'No converter is registered for {name!r}; '
                       f'registered: {registered_converters()}')
    return _REGISTRY[registered]


def converter_for_type(cls: type) -> Optional[Converter]:
    """The converter of the first class in ``cls.__mro__`` whose name is
    registered (exact spelling), so subclasses of a backbone use its
    converter; None if there is none."""
    for klass in cls.__mro__:
        if klass.__name__ in _REGISTRY:
            return _REGISTRY[klass.__name__]
    return None


def converter_of_function(fn: Callable) -> Optional[Converter]:
    """The registered converter whose public function (or undecorated
    function) is ``fn``, or None."""
    for converter in _REGISTRY.values():
        if fn is converter.function or fn is converter.fn or \
                fn is converter:
            return converter
    return None


def recognising_converters(checkpoint: Union[dict,
                                             Collection[str]]) -> List[str]:
    """Names of the registered converters that recognise ``checkpoint``.

    Args:
        checkpoint (dict | Collection[str]): A checkpoint, a state dict or
            the keys of a prepared state dict.

    Returns:
        list[str]: Sorted names.
    """
    if isinstance(checkpoint, dict):
        checkpoint = prepare_state_dict(checkpoint)
    keys = list(checkpoint)
    return [
        n for n in registered_converters() if _REGISTRY[n].recognises(keys)
    ]


#: What a key function returns for an official key that has no mmvitplug
#: counterpart by design (e.g. a buffer the model recomputes), or whose
#: tensor the converter carries over itself (e.g. stacked with others).
DROP = object()


def map_keys(state_dict: StateDict,
             convert_key: Callable[[str], Union[str, None, object]],
             converter: str,
             expected: str,
             *,
             layout: str = 'the official layout') -> StateDict:
    """Rename every key of an official state dict, refusing unknown keys.

    The loop every converter shares: ``convert_key`` maps an official key
    to its mmvitplug key, to :data:`DROP` (known, deliberately not
    carried over) or to None (not part of the official layout). Unknown
    keys fail the whole conversion, so no weight is dropped silently.
    ``convert_key`` sees the keys in order and may raise its own error
    (e.g. a ValueError for a key that is known but inconsistent); tensors
    are carried over as they are, so a converter that reshapes, splits or
    fuses tensors does so around this call.

    Args:
        state_dict (dict): The official (prepared) state dict.
        convert_key (callable): Official key -> mmvitplug key, DROP or
            None.
        converter (str): The converter's name, for the error.
        expected (str): The keys the layout has, for the error.
        layout (str): The layout the unknown keys are not in, for the
            error, e.g. ``'the official HAT-Net layout'``. Defaults to
            ``'the official layout'``.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors shared), in
        the order of ``state_dict``.

    Raises:
        KeyError: Some keys are not in the layout (the first ten and the
            count are named): ``'{converter}: N key(s) are not in
            {layout}: [...]; expected {expected}'``.
    """
    converted, unknown = {}, []
    for key, value in state_dict.items():
        new = convert_key(key)
        if new is None:
            unknown.append(key)
        elif new is not DROP:
            converted[new] = value
    if unknown:
        raise KeyError(f'{converter}: {len(unknown)} key(s) are not in '
                       f'{layout}: {unknown[:10]}; expected {expected}')
    return converted
