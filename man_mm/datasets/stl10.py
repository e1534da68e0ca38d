"""STL-10 dataset in the official binary format."""
from typing import List, Optional

import numpy as np
from mmengine.fileio import exists, get, join_path
from mmengine.logging import MMLogger
from mmpretrain.datasets import BaseDataset

from man_mm.registry import DATASETS

STL10_CATEGORIES = ('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse',
                    'monkey', 'ship', 'truck')


@DATASETS.register_module()
class STL10(BaseDataset):
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
        if split == 'train' and test_mode:
            MMLogger.get_current_instance().warning(
                'split="train" but test_mode=True. '
                'The training set will be used.')
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
        assert len(imgs) == len(labels), \
            f'STL-10 {self.split}: {len(imgs)} images but {len(labels)} labels'
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
