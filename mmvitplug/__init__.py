# Copyright (c) mmvitplug contributors.
"""mmvitplug: vision transformers and their training methods for OpenMMLab.

Importing the package registers every module under the ``mmvitplug`` registry
scope and installs the stack fixes of :mod:`mmvitplug.utils.compat`
(weights-only resume; CPU distributed launch; CPU bfloat16 autocast through
mmcv ops and metrics), and has mmpretrain's ``ModelHub`` register our model
index (``model-index.yml``) after its own on first use. Use it from any
OpenMMLab config with::

    custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)
"""
from .utils import compat as _compat
from .version import __version__

_compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .utils.zoo import register_at_import as _register_at_import  # noqa

# mmpretrain.list_models / get_model / the inferencers find our models (the
# index is read when ModelHub is first used, not at import)
_register_at_import()

__all__ = ['__version__']
