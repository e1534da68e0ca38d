"""Refer to a module without making it a submodule."""
from torch import nn


class Unregistered:
    """Holds a module that another module uses but must not own.

    Assigning an ``nn.Module`` to an attribute registers it: its parameters
    would be counted, stepped and saved twice (a stem that runs the
    backbone's layers, an aux net that calls the shared task head). Holding
    it here keeps it out of ``parameters()`` and the state dict.

    Args:
        module (nn.Module): The module referred to.
    """
    __slots__ = ('module', )

    def __init__(self, module: nn.Module):
        self.module = module

    def __repr__(self) -> str:
        return f'Unregistered({type(self.module).__name__})'
