# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Write the embedded super-resolution set: scikit-image's real photographs.

scikit-image ships a few dozen test images inside its package
(``skimage/data``), so this needs no download. The real photographs among
them (astronaut, coffee, rocket, the Hubble deep field, a retina, coins, the
moon, ...) become HR images, cropped to a multiple of 12 (as Set5's
``GTmod12``), plus their bicubic x2/x3/x4 downscales, in the layout mmagic's
``BasicImageDataset`` reads (the Set5/Set14 layout), split by image::

    data/sr_photos/train/GTmod12/<name>.png
    data/sr_photos/train/LRbicx{2,3,4}/<name>.png
    data/sr_photos/val/GTmod12/<name>.png
    data/sr_photos/val/LRbicx{2,3,4}/<name>.png

Grayscale photographs are stored as RGB (three equal channels). The LR images
are PIL's antialiased bicubic downscale, which follows MATLAB's ``imresize``
(the DIV2K/Set5 LR images) up to rounding.

    python tools/dataset_converters/prepare_sr_photos.py [--out data/sr_photos]

Idempotent: an existing complete set is left as it is.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

SCALES = (2, 3, 4)
MOD = 12  # HR sides divisible by every scale

#: Real photographs shipped in skimage/data (file name -> set). Synthetic or
#: drawn images (logo, color, chessboard, phantom, horse, text rendering
#: tests) and blurred ones (clock_motion) are left out.
PHOTOS = {
    # colour
    'astronaut.png': 'train',
    'coffee.png': 'train',
    'hubble_deep_field.jpg': 'train',
    'ihc.png': 'train',
    'motorcycle_left.png': 'train',
    'motorcycle_right.png': 'train',
    'retina.jpg': 'train',
    'chelsea.png': 'val',
    'rocket.jpg': 'val',
    # grayscale
    'brick.png': 'train',
    'grass.png': 'train',
    'gravel.png': 'train',
    'moon.png': 'train',
    'page.png': 'train',
    'text.png': 'train',
    'camera.png': 'val',
    'coins.png': 'val',
}


def _photo(path: str, max_side=None) -> Image.Image:
    """RGB image, centre-cropped to sides divisible by ``MOD`` (and at most
    ``max_side``)."""
    img = Image.open(path).convert('RGB')
    w, h = img.size
    if max_side:
        w, h = min(w, max_side), min(h, max_side)
    w, h = w - w % MOD, h - h % MOD
    left, top = (img.size[0] - w) // 2, (img.size[1] - h) // 2
    return img.crop((left, top, left + w, top + h))


def prepare_sr_photos(out_dir: str, names=None, max_side=None) -> dict:
    """Write the set; return ``{split: [image names]}``.

    Args:
        out_dir (str): Where to write (``data/sr_photos``).
        names (Sequence[str], optional): Only these photographs (file names
            in :data:`PHOTOS`), e.g. for a small test set.
        max_side (int, optional): Centre-crop HR images to at most this many
            pixels a side (tests).
    """
    marker = osp.join(out_dir, '.complete')
    if osp.exists(marker):
        with open(marker) as f:
            return json.load(f)
    from skimage import data
    chosen = list(PHOTOS) if names is None else list(names)
    unknown = set(chosen) - set(PHOTOS)
    if unknown:
        raise KeyError(f'not an embedded photograph: {sorted(unknown)}; '
                       f'choose from {sorted(PHOTOS)}')
    splits = {'train': [], 'val': []}
    for file_name in chosen:
        split = PHOTOS[file_name]
        name = osp.splitext(file_name)[0]
        hr = _photo(osp.join(data.data_dir, file_name), max_side)
        folder = osp.join(out_dir, split, 'GTmod12')
        os.makedirs(folder, exist_ok=True)
        hr.save(osp.join(folder, f'{name}.png'))
        for scale in SCALES:
            lr = hr.resize((hr.size[0] // scale, hr.size[1] // scale),
                           Image.BICUBIC)
            folder = osp.join(out_dir, split, f'LRbicx{scale}')
            os.makedirs(folder, exist_ok=True)
            lr.save(osp.join(folder, f'{name}.png'))
        splits[split].append(name)
    with open(marker, 'w') as f:
        json.dump(splits, f)
    return splits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/sr_photos')
    args = parser.parse_args()
    splits = prepare_sr_photos(args.out)
    sizes = []
    for split, names in splits.items():
        for name in names:
            with Image.open(osp.join(args.out, split, 'GTmod12',
                                     f'{name}.png')) as img:
                sizes.append(np.prod(img.size))
    print(f"sr_photos: {len(splits['train'])} train / {len(splits['val'])} "
          f"val photographs ({sum(sizes) / 1e6:.1f} MPixel of HR) with "
          f"bicubic x{'/x'.join(map(str, SCALES))} LR in {args.out}")


if __name__ == '__main__':
    main()
