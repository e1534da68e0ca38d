# Copyright (c) man_mm contributors. Licensed under the Apache License 2.0.
"""Write the embedded default detection data: SYNTHETIC shapes, COCO format.

This data is SYNTHETIC, made only so the detection demo and the tests run with
no download. Real COCO / Pascal VOC are read from ``data/coco`` and
``data/VOCdevkit`` by the usual mmdet configs; nothing here stands in for them.

Each image holds 1-4 filled shapes of 3 classes (``circle``, ``square``,
``triangle``) in random colours, 10%-60% of the image side, on a textured
background (low-frequency noise plus a gradient or stripes). Placements whose
box has IoU > 0.3 with an earlier box, or that would hide over 30% of an
earlier shape, are rejected. Every box is the exact pixel extent of its
shape's own mask (amodal: a later shape may cover a little of it). Layout::

    <out>/train/000000.png ...
    <out>/val/000000.png ...
    <out>/annotations/instances_train.json
    <out>/annotations/instances_val.json

    python tools/dataset_converters/make_shapes_coco.py --out data/shapes_coco

Deterministic: each image is drawn from its own ``np.random.RandomState``
seeded by ``(seed, split, index)``, so output is byte-identical across runs.
Idempotent: a ``.complete`` marker with the same parameters means nothing is
done.
"""
import argparse
import glob
import json
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ('circle', 'square', 'triangle')
SPLITS = ('train', 'val')
MAX_IOU = 0.3
MIN_VISIBLE = 0.7
SCALE_RANGE = (0.1, 0.6)


def _iou(a, b):
    """IoU of two boxes in (x1, y1, x2, y2) form."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
             inter)
    return inter / union


def _background(rng, size):
    """A textured RGB background as a float array in [0, 255]."""
    # Low-frequency colour noise: a coarse random grid, upsampled bicubically.
    grid = rng.randint(0, 256, (rng.randint(2, 7), rng.randint(2, 7), 3))
    noise = Image.fromarray(grid.astype(np.uint8), 'RGB').resize(
        (size, size), Image.BICUBIC)
    img = np.asarray(noise, dtype=np.float64)
    yy, xx = np.mgrid[0:size, 0:size] / float(size)
    theta = rng.uniform(0, np.pi)
    proj = xx * np.cos(theta) + yy * np.sin(theta)
    if rng.rand() < 0.5:  # linear gradient between two colours
        c0, c1 = rng.uniform(0, 255, (2, 3))
        t = (proj - proj.min()) / (np.ptp(proj) + 1e-9)
        pattern = c0 + (c1 - c0) * t[..., None]
    else:  # sinusoidal stripes
        period = rng.uniform(6, 32) / size
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * proj / period)
        pattern = rng.uniform(0, 255, 3) * wave[..., None]
    mix = rng.uniform(0.3, 0.7)
    img = mix * img + (1 - mix) * pattern
    img += rng.normal(0, 6, img.shape)  # fine grain
    return np.clip(img, 0, 255)


def _shape_mask(rng, label, size, image_size):
    """Draw one shape of side ``size`` at a random place; return its mask."""
    x0 = rng.randint(0, image_size - size + 1)
    y0 = rng.randint(0, image_size - size + 1)
    x1, y1 = x0 + size - 1, y0 + size - 1
    mask = Image.new('L', (image_size, image_size), 0)
    draw = ImageDraw.Draw(mask)
    name = CLASSES[label]
    if name == 'circle':
        draw.ellipse([x0, y0, x1, y1], fill=255)
    elif name == 'square':
        draw.rectangle([x0, y0, x1, y1], fill=255)
    else:  # triangle: equilateral, randomly rotated, inscribed in the square
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (size - 1) / 2
        phi = rng.uniform(0, 2 * np.pi)
        pts = [(cx + r * np.cos(phi + k * 2 * np.pi / 3),
                cy + r * np.sin(phi + k * 2 * np.pi / 3)) for k in range(3)]
        draw.polygon(pts, fill=255)
    return mask


def _make_image(rng, image_size):
    """Draw one image; return it and its objects as (label, xyxy, area)."""
    img = _background(rng, image_size)
    objects = []
    owner = np.full((image_size, image_size), -1)  # visible object per pixel
    min_side = max(4, int(round(SCALE_RANGE[0] * image_size)))
    max_side = max(min_side, int(round(SCALE_RANGE[1] * image_size)))
    num = rng.randint(1, 5)
    for _ in range(num * 10):  # bounded tries; the first always succeeds
        if len(objects) == num:
            break
        label = rng.randint(len(CLASSES))
        side = rng.randint(min_side, max_side + 1)
        mask = _shape_mask(rng, label, side, image_size)
        box = mask.getbbox()  # (x1, y1, x2, y2), x2/y2 exclusive: tight
        if box is None or box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        if any(_iou(box, o[1]) > MAX_IOU for o in objects):
            continue
        m = np.asarray(mask, dtype=bool)
        covered = np.bincount(owner[m] + 1, minlength=len(objects) + 1)[1:]
        if any((owner == j).sum() - covered[j] < MIN_VISIBLE * o[2]
               for j, o in enumerate(objects)):
            continue
        # A colour that stands out from the background under the shape.
        under = img[m].mean(0)
        for _ in range(20):
            colour = rng.randint(0, 256, 3).astype(np.float64)
            if np.abs(colour - under).sum() > 150:
                break
        img[m] = colour
        owner[m] = len(objects)
        objects.append((int(label), box, int(m.sum())))
    return Image.fromarray(img.round().astype(np.uint8), 'RGB'), objects


def _write_split(out_dir, split, num, image_size, seed):
    """Write one split's images and annotation file; return its counts."""
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    for old in glob.glob(osp.join(img_dir, '[0-9]' * 6 + '.png')):
        os.remove(old)
    images, annotations = [], []
    for idx in range(num):
        rng = np.random.RandomState([seed, SPLITS.index(split), idx])
        img, objects = _make_image(rng, image_size)
        file_name = f'{idx:06d}.png'
        img.save(osp.join(img_dir, file_name))
        images.append(
            dict(id=idx + 1, file_name=file_name, width=image_size,
                 height=image_size))
        for label, (x1, y1, x2, y2), area in objects:
            # COCO ids start at 1: pycocotools' COCOeval treats 0 as "none".
            annotations.append(
                dict(id=len(annotations) + 1, image_id=idx + 1,
                     category_id=label + 1,
                     bbox=[x1, y1, x2 - x1, y2 - y1], area=area, iscrowd=0))
    coco = dict(
        info=dict(description='SYNTHETIC shapes (man_mm detection demo)'),
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(CLASSES)
        ])
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    with open(osp.join(ann_dir, f'instances_{split}.json'), 'w') as f:
        json.dump(coco, f)
    return dict(images=len(images), annotations=len(annotations))


def make_shapes_coco(out_dir: str,
                     num_train: int = 256,
                     num_val: int = 64,
                     image_size: int = 128,
                     seed: int = 0) -> dict:
    """Write the synthetic shapes data set in COCO detection format.

    Args:
        out_dir (str): Folder to write to, e.g. ``data/shapes_coco``.
        num_train (int): Number of training images. Defaults to 256.
        num_val (int): Number of validation images. Defaults to 64.
        image_size (int): Side of the square images in pixels.
            Defaults to 128.
        seed (int): Random seed. Defaults to 0.

    Returns:
        dict: ``{'train': {'images': n, 'annotations': m}, 'val': {...}}``.
    """
    params = dict(num_train=num_train, num_val=num_val,
                  image_size=image_size, seed=seed)
    marker = osp.join(out_dir, '.complete')
    if osp.exists(marker):
        with open(marker) as f:
            done = json.load(f)
        if done.get('params') == params:
            return done['counts']
        os.remove(marker)
    counts = {
        split: _write_split(out_dir, split, num, image_size, seed)
        for split, num in zip(SPLITS, (num_train, num_val))
    }
    with open(marker, 'w') as f:
        json.dump(dict(params=params, counts=counts), f)
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/shapes_coco')
    parser.add_argument('--num-train', type=int, default=256)
    parser.add_argument('--num-val', type=int, default=64)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = make_shapes_coco(args.out, args.num_train, args.num_val,
                              args.image_size, args.seed)
    print('shapes_coco (SYNTHETIC): ' + ', '.join(
        f"{s}: {c['images']} images / {c['annotations']} boxes"
        for s, c in counts.items()) + f' in {args.out}')


if __name__ == '__main__':
    main()
