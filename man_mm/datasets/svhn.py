"""SVHN (cropped digits) dataset in the official ``.mat`` format."""
import io
from typing import List

import numpy as np
from mmengine.fileio import exists, get, join_path
from scipy.io import loadmat

from man_mm.registry import DATASETS
from .split_file_dataset import SplitFileDataset

SVHN_CATEGORIES = tuple(str(i) for i in range(10))


@DATASETS.register_module()
class SVHN(SplitFileDataset):
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
        return self._samples(imgs, labels, path)
