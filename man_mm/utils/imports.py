"""Optional dependencies: mmdet and mmagic need not be installed."""
import importlib
import sys
from typing import Tuple, Type


def optional_types(module: str, *names: str) -> Tuple[Type, ...]:
    """Classes ``names`` of ``module``, or ``()`` while its library (the
    top-level package) is not imported: no instance of them can exist then,
    so a check against another library's class need not import it (mmdet
    and mmagic are slow to import, and optional for other tasks).

    Example:
        ``optional_types('mmdet.models.backbones', 'Darknet')``
    """
    if module.split('.')[0] not in sys.modules:
        return ()
    found = importlib.import_module(module)
    return tuple(getattr(found, name) for name in names)
