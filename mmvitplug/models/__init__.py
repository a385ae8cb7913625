# Copyright (c) mmvitplug contributors.
# Importing registers every model module (and mmvitplug.LN2d, in norms).
from . import (backbones, classifiers, distill, heads, losses,  # noqa: F401
               necks, norms, selfsup)
