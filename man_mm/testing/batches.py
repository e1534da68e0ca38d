"""Synthetic batches in the data-loader formats of mmpretrain and mmagic."""
from typing import Optional

import torch
import torch.nn.functional as F


def fake_cls_batch(batch_size: int, input_shape=(3, 32, 32),
                   num_classes: int = 10, seed: int = 0) -> dict:
    """A random classification batch in mmpretrain's data-loader format."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, input_shape, generator=g, dtype=torch.uint8)
        for _ in range(batch_size)
    ]
    labels = torch.randint(0, num_classes, (batch_size, ), generator=g)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=inputs, data_samples=samples)


def fake_sr_batch(batch_size: int, lr_shape=(3, 48, 48), scale: int = 2,
                  seed: int = 0) -> dict:
    """A random SR batch as mmagic's ``PackInputs`` + ``pseudo_collate``
    give it: LR ``inputs`` and ``DataSample``s holding the HR ``gt_img``.

    The HR images are smooth random textures in [0, 255]; the LR inputs are
    their bicubic (antialiased) downscales, so the pair is a genuine SR task.

    Args:
        batch_size (int): Number of image pairs.
        lr_shape (tuple[int]): ``(C, h, w)`` of the LR input.
        scale (int): Upscaling factor; HR is ``(C, h * scale, w * scale)``.
        seed (int): Random seed.
    """
    from mmagic.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    c, h, w = lr_shape
    coarse = torch.rand(batch_size, c, max(h // 4, 1), max(w // 4, 1),
                        generator=g)
    hr = F.interpolate(coarse, size=(h * scale, w * scale), mode='bicubic',
                       align_corners=False)
    hr = hr + 0.1 * torch.rand(hr.shape, generator=g)
    hr = (hr.clamp(0, 1) * 255).round()
    lr = F.interpolate(hr, size=(h, w), mode='bicubic', antialias=True,
                       align_corners=False).clamp(0, 255).round()
    inputs = list(lr)
    samples = []
    for gt in hr:
        sample = DataSample(gt_img=gt)
        sample.set_metainfo(dict(gt_channel_order='rgb',
                                 img_channel_order='rgb'))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def fake_liif_batch(batch_size: int, lr_size: int = 8, scale: int = 2,
                    num_queries: Optional[int] = None, seed: int = 0) -> dict:
    """A random batch for mmagic's ``LIIF``, as its data pipeline gives it:
    LR ``inputs`` and ``DataSample``s holding the ``gt_img`` RGB values at
    ``num_queries`` sampled HR pixels, with their ``coord`` and ``cell`` in
    the metainfo.

    Args:
        batch_size (int): Number of images.
        lr_size (int): Side of the square LR input.
        scale (int): Upscaling factor of the HR grid.
        num_queries (int, optional): Pixels sampled per image. Defaults to
            None: the whole HR grid in raster order (what LIIF's inference
            reshapes into an image).
        seed (int): Random seed.
    """
    from mmagic.structures import DataSample
    from mmagic.utils import make_coord
    g = torch.Generator().manual_seed(seed)
    side = lr_size * scale
    coord = make_coord((side, side))
    cell = torch.full_like(coord, 2 / side)
    inputs, samples = [], []
    for _ in range(batch_size):
        coarse = torch.rand(1, 3, max(side // 4, 1), max(side // 4, 1),
                            generator=g)
        hr = F.interpolate(coarse, size=(side, side), mode='bicubic',
                           align_corners=False).clamp(0, 1)[0] * 255
        lr = F.interpolate(hr[None], size=(lr_size, lr_size),
                           mode='bicubic', antialias=True,
                           align_corners=False)[0].clamp(0, 255)
        idx = torch.arange(side * side) if num_queries is None else \
            torch.randperm(side * side, generator=g)[:num_queries]
        sample = DataSample(gt_img=hr.permute(1, 2, 0).reshape(-1, 3)[idx])
        sample.set_metainfo(dict(coord=coord[idx], cell=cell[idx],
                                 gt_channel_order='rgb',
                                 img_channel_order='rgb'))
        inputs.append(lr)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
