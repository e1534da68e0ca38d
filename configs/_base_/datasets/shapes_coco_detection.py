# The embedded default detection data: SYNTHETIC shapes (circle / square /
# triangle) in COCO format, written as 128x128 PNGs by
# tools/dataset_converters/make_shapes_coco.py (no download). For real data,
# use mmdet's coco_detection.py / voc0712.py (data/coco, data/VOCdevkit).
# Mirrors mmdet::_base_/datasets/coco_detection.py; the values live in
# ../recipes/shapes_detection.py.
_base_ = '../recipes/shapes_detection.py'
dataset_type = 'CocoDataset'
data_root = {{_base_.shapes.data_root}}
metainfo = {{_base_.shapes.metainfo}}
backend_args = None
train_pipeline = {{_base_.shapes.train_pipeline}}
test_pipeline = {{_base_.shapes.test_pipeline}}
train_dataloader = {{_base_.shapes.train_dataloader}}
val_dataloader = {{_base_.shapes.val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.shapes.val_evaluator}}
test_evaluator = val_evaluator
