"""SVHN (cropped digits) dataset in the official ``.mat`` format."""
import io
from typing import List, Optional

import numpy as np
from mmengine.fileio import exists, get, join_path
from mmengine.logging import MMLogger
from mmpretrain.datasets import BaseDataset
from scipy.io import loadmat

from man_mm.registry import DATASETS

SVHN_CATEGORIES = tuple(str(i) for i in range(10))


@DATASETS.register_module()
class SVHN(BaseDataset):
    """`SVHN <http://ufldl.stanford.edu/housenumbers/>`_ cropped digits.

    Reads the official Format-2 files ``{split}_32x32.mat`` directly from
    ``data_root`` (``X``: uint8 ``(32, 32, 3, N)``; ``y``: ``(N, 1)`` with
    labels 1..10, where 10 is the digit 0 and is mapped to label 0). Nothing
    is ever downloaded.

    Args:
        data_root (str): Directory holding the ``*_32x32.mat`` files.
        split (str): One of ``'train'``, ``'test'`` and ``'extra'``.
            Defaults to ``'train'``.
        metainfo (dict, optional): Meta information overriding ``METAINFO``.
            Defaults to None.
        data_prefix (str): Sub-directory of ``data_root`` with the files.
            Defaults to ''.
        test_mode (bool): Whether in test mode. Defaults to False.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    url = 'http://ufldl.stanford.edu/housenumbers/'
    splits = ('train', 'test', 'extra')
    METAINFO = {'classes': SVHN_CATEGORIES}

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 metainfo: Optional[dict] = None,
                 data_prefix: str = '',
                 test_mode: bool = False,
                 **kwargs):
        assert split in self.splits, \
            f"The split must be one of {self.splits}, but got '{split}'"
        self.split = split
        if split != 'test' and test_mode:
            MMLogger.get_current_instance().warning(
                f'split="{split}" but test_mode=True. '
                f'The {split} set will be used.')
        if not data_root and not data_prefix:
            raise RuntimeError(
                'Please set ``data_root`` to specify the dataset path')
        super().__init__(
            ann_file='',
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(root=data_prefix),
            test_mode=test_mode,
            **kwargs)

    @property
    def filename(self) -> str:
        """str: Name of the official file of the split."""
        return f'{self.split}_32x32.mat'

    def load_data_list(self) -> List[dict]:
        """Load HWC uint8 RGB images and 0-based labels from the mat file."""
        root = self.data_prefix['root']
        path = join_path(root, self.filename)
        if not exists(path):
            raise FileNotFoundError(
                f'SVHN file not found: {path}. man_mm does not download '
                f'datasets; download {self.filename} (cropped digits, '
                f'Format 2) from {self.url} into {root or "data/svhn/"}.')
        mat = loadmat(io.BytesIO(get(path)))
        imgs = np.ascontiguousarray(mat['X'].transpose(3, 0, 1, 2))
        labels = mat['y'].reshape(-1).astype(np.int64) % 10  # 10 -> 0
        assert len(imgs) == len(labels), \
            f'{path}: {len(imgs)} images but {len(labels)} labels'
        return [{
            'img': img,
            'gt_label': int(label)
        } for img, label in zip(imgs, labels)]

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f"Prefix of data: \t{self.data_prefix['root']}",
            f'Split: \t{self.split}'
        ]
