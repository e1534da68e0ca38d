"""Synthetic batches in the data-loader formats of mmpretrain and mmagic."""
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
