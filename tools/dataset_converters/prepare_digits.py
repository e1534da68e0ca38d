# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Write the embedded default data set: scikit-learn's handwritten digits.

scikit-learn ships 1,797 real 8x8 scans of handwritten digits (UCI optdigits)
inside its package, so this needs no download. Each is upscaled to a 32x32
RGB PNG (CIFAR's size, so CIFAR networks run unchanged) and written in the
folder-per-class layout mmpretrain's ``CustomDataset`` reads::

    data/digits/train/<class>/<index>.png   (4 of every 5 images per class)
    data/digits/val/<class>/<index>.png     (the 5th)

    python tools/dataset_converters/prepare_digits.py [--out data/digits]

Idempotent: an existing complete set is left as it is.
"""
import argparse
import os
import os.path as osp

import numpy as np
from PIL import Image

SIZE = 32


def prepare_digits(out_dir: str) -> dict:
    """Write the split; return the number of images per split."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images, labels = digits.images, digits.target
    counts = {'train': 0, 'val': 0}
    seen = np.zeros(10, dtype=int)
    marker = osp.join(out_dir, '.complete')
    if osp.exists(marker):
        with open(marker) as f:
            train, val = (int(v) for v in f.read().split())
        return {'train': train, 'val': val}
    for i, (img, label) in enumerate(zip(images, labels)):
        split = 'val' if seen[label] % 5 == 4 else 'train'
        seen[label] += 1
        gray = (img / 16.0 * 255).round().astype(np.uint8)
        pil = Image.fromarray(gray, mode='L').resize((SIZE, SIZE),
                                                     Image.BICUBIC)
        folder = osp.join(out_dir, split, str(label))
        os.makedirs(folder, exist_ok=True)
        pil.convert('RGB').save(osp.join(folder, f'{i:04d}.png'))
        counts[split] += 1
    with open(marker, 'w') as f:
        f.write(f"{counts['train']} {counts['val']}\n")
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/digits')
    args = parser.parse_args(argv)
    counts = prepare_digits(args.out)
    print(f"digits: {counts['train']} train / {counts['val']} val images "
          f'in {args.out}')


if __name__ == '__main__':
    main()
