"""Building blocks that several model parts use."""
from .checkpoint import (CheckpointedSequential, checkpointed,
                         disable_block_checkpointing, run_blocks)

__all__ = [
    'CheckpointedSequential', 'checkpointed', 'disable_block_checkpointing',
    'run_blocks'
]
