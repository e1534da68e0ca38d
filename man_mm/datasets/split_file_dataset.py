"""Base class for data sets shipped as one official file set per split."""
from typing import List, Optional

from mmengine.logging import MMLogger
from mmpretrain.datasets import BaseDataset


class SplitFileDataset(BaseDataset):
    """A classification set read from its official per-split files.

    Subclasses define ``splits`` and ``load_data_list``; this class checks
    the split, keeps ``data_prefix`` as the files' folder and never
    downloads anything (as mmpretrain's CIFAR classes would).

    Args:
        data_root (str): Folder of the official files.
        split (str): One of ``splits``. Defaults to ``'train'``.
        metainfo (dict, optional): Meta information. Defaults to None.
        data_prefix (str): Sub-folder of ``data_root``. Defaults to ''.
        test_mode (bool): Whether in test mode. Defaults to False.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments.
    """
    splits: tuple = ()

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

    @staticmethod
    def _samples(imgs, labels, where: str) -> List[dict]:
        assert len(imgs) == len(labels), \
            f'{where}: {len(imgs)} images but {len(labels)} labels'
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
