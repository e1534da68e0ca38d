# YOLOv3-R34 on Pascal VOC (07+12 trainval -> 07 test), BP, paper recipe.
# mmdet ships no YOLOv3 VOC config: this keeps the YOLOv3-R34 model, pipelines
# and schedule and swaps in the layout of mmdet's voc0712.py (data/VOCdevkit),
# counting plain epochs (no 3x RepeatDataset) like the RetinaNet VOC configs.
_base_ = './yolov3_r34_160e_coco_bp.py'
dataset_type = 'VOCDataset'
data_root = 'data/VOCdevkit/'
model = dict(bbox_head=dict(num_classes=20))
voc_trainval = dict(
    type=dataset_type,
    data_root=data_root,
    filter_cfg=dict(filter_empty_gt=True, min_size=32, bbox_min_size=32),
    pipeline={{_base_.train_pipeline}})
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        # VOCDataset adds its own `dataset_type` to the metainfo.
        ignore_keys=['dataset_type'],
        datasets=[
            dict(voc_trainval,
                 ann_file='VOC2007/ImageSets/Main/trainval.txt',
                 data_prefix=dict(sub_data_root='VOC2007/')),
            dict(voc_trainval,
                 ann_file='VOC2012/ImageSets/Main/trainval.txt',
                 data_prefix=dict(sub_data_root='VOC2012/')),
        ]))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='VOC2007/ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='VOCMetric', metric='mAP', eval_mode='11points')
test_evaluator = val_evaluator
