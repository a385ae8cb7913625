# Copyright (c) mmvitplug contributors.
# Importing registers every model module (and mmvitplug.LN2d, in norms).
from . import (backbones, classifiers, data_preprocessors,  # noqa: F401
               distill, heads, losses, necks, norms, selfsup)
