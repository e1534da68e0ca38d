# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Turn a local-learning checkpoint into a plain base-model checkpoint.

``LocalLearningModel`` saves ``model.*`` (the base model) and ``aux_heads.*``
(training-only auxiliary nets). This drops the aux nets and the ``model.``
prefix, so the result loads into the unmodified mmpretrain/mmdet/mmagic
config (``tools/test.py BASE_CONFIG OUT``, ``load_from=OUT``, ``init_cfg``).

    python tools/model_converters/strip_aux.py IN.pth OUT.pth
"""
import argparse
import os.path as osp
from collections import OrderedDict

import torch


def strip_aux(checkpoint: dict) -> dict:
    """Return the base-model checkpoint inside a local-learning checkpoint.

    Args:
        checkpoint (dict): As saved by mmengine's ``CheckpointHook``.

    Returns:
        dict: ``{'meta': ..., 'state_dict': base-model weights}``.
    """
    state = checkpoint.get('state_dict', checkpoint)
    if not any(k.startswith('model.') for k in state):
        raise ValueError(
            'this checkpoint has no "model." weights: it is not a man_mm '
            'LocalLearningModel checkpoint (maybe it is already plain).')
    base = OrderedDict((k[len('model.'):], v) for k, v in state.items()
                       if k.startswith('model.'))
    meta = dict(checkpoint.get('meta', {}))
    meta['man_mm_stripped_keys'] = sorted(
        {k.split('.')[0] for k in state if not k.startswith('model.')})
    return {'meta': meta, 'state_dict': base}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='local-learning checkpoint')
    parser.add_argument('dst', help='where to write the base checkpoint')
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing dst')
    args = parser.parse_args()
    if osp.exists(args.dst) and not args.force:
        raise FileExistsError(f'{args.dst} exists; pass --force to '
                              'overwrite it')
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=False)
    out = strip_aux(checkpoint)
    torch.save(out, args.dst)
    print(f'wrote {args.dst}: {len(out["state_dict"])} tensors '
          f'(dropped {out["meta"]["man_mm_stripped_keys"]})')


if __name__ == '__main__':
    main()
