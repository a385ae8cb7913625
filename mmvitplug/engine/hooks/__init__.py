# Copyright (c) mmvitplug contributors.
