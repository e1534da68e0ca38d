"""STL-10 dataset in the official binary format."""
from typing import List

import numpy as np
from mmengine.fileio import exists, get, join_path

from man_mm.registry import DATASETS
from .split_file_dataset import SplitFileDataset

STL10_CATEGORIES = ('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse',
                    'monkey', 'ship', 'truck')


@DATASETS.register_module()
class STL10(SplitFileDataset):
    """`STL-10 <https://cs.stanford.edu/~acoates/stl10/>`_ labelled splits.

    Reads ``{data_root}/stl10_binary/{split}_X.bin`` (uint8, ``N x 3 x 96 x
    96``, each image stored column-major) and ``{split}_y.bin`` (uint8
    labels 1..10, mapped to 0..9). Nothing is ever downloaded.

    Args:
        data_root (str): Directory containing ``stl10_binary/``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        metainfo (dict, optional): Meta information overriding ``METAINFO``.
            Defaults to None.
        data_prefix (str): Sub-directory of ``data_root`` holding
            ``stl10_binary/``. Defaults to ''.
        test_mode (bool): Whether in test mode. Defaults to False.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    url = 'https://cs.stanford.edu/~acoates/stl10/'
    base_folder = 'stl10_binary'
    img_size = 96
    splits = ('train', 'test')
    METAINFO = {'classes': STL10_CATEGORIES}

    def _read(self, filename: str) -> np.ndarray:
        """Read one official binary file as a flat uint8 array."""
        root = self.data_prefix['root']
        path = join_path(root, self.base_folder, filename)
        if not exists(path):
            raise FileNotFoundError(
                f'STL-10 file not found: {path}. man_mm does not download '
                f'datasets; download stl10_binary.tar.gz from {self.url} and '
                f'extract it into {root or "data/stl10/"} so that '
                f'{self.base_folder}/{filename} exists.')
        return np.frombuffer(get(path), dtype=np.uint8)

    def load_data_list(self) -> List[dict]:
        """Load HWC uint8 RGB images and 0-based labels."""
        s = self.img_size
        imgs = self._read(f'{self.split}_X.bin').reshape(-1, 3, s, s)
        # Column-major per image: (N, C, W, H) -> (N, H, W, C).
        imgs = np.ascontiguousarray(imgs.transpose(0, 3, 2, 1))
        labels = self._read(f'{self.split}_y.bin').astype(np.int64) - 1
        return self._samples(imgs, labels, f'STL-10 {self.split}')
