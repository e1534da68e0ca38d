"""Task adapters for mmdet's language-conditioned detectors: GroundingDINO
(and MM-Grounding-DINO, the same class) and GLIP.

Both detectors score image regions against the tokens of a text prompt
(the class names, ``data_sample.text``), which a text encoder -- a BERT
(``language_model``), and for GroundingDINO the ``text_feat_map`` linear
layer after it -- turns into token features. The text encoder belongs to
the task head, but it does not depend on the image, so local learning
does not run it in every module's head:

* **Once per iteration.** ``TaskAdapter.prepare`` encodes the batch's
  prompts once per training step and process, before the first local
  module runs (where the base model encodes them too, before
  ``extract_feat``: the same random draws -- BERT's dropout, then the
  backbone's -- in the same order). The result is kept in the feature
  bank's per-iteration ``context``, which every module's head reads; K
  modules cost one text forward, not K. The positive maps and text masks
  that the base model's ``loss`` writes into the data samples are written
  there once, too.
* **Trained by the real task loss only.** The aux nets of modules
  0..K-2 read the text features *detached*, as MAN's aux nets read the
  feature bank's detached key features; the last module's real head reads
  them with their graph, so its loss (and only it) trains the text
  encoder, through one backward, with BP's gradient.

  Why: the alternatives all cost more or are not sound. Letting every aux
  loss reach the text encoder would need the text graph to survive K
  backward passes (``retain_graph``) or be re-run K times -- what encoding
  once avoids -- and its gradient would be the mean over K losses of
  which K-1 come from auxiliary objectives, while the text encoder is not
  part of any local module: no gradient isolation is served by training
  it locally. Detached text keeps the aux losses confined to their own
  module and the shared image head (gradient isolation between the
  backbone's local modules holds: the text never depends on the
  backbone), and with K=1 the only loss is the real one on the live
  text, which is exactly BP. The price is that the text encoder's
  activations stay alive through the iteration (until the last module's
  backward), as in BP -- they are small next to the image's.

The text encoder is thus a :meth:`~TaskAdapter.context_modules` module,
not a :meth:`~TaskAdapter.head_modules` one: aux nets neither share nor
copy it (``share_head=False`` copies the image head only), the shared-head
gradient averaging leaves it alone (one loss reaches it), the optimizer
steps it once per iteration with the last module's parameters, and a
pipeline (``LocalPipelineParallel``) keeps it on every stage, each of which
encodes its batch once (without a graph where the real head runs
elsewhere) and receives its new weights from the last stage.
"""
from typing import Dict, List

import torch
from torch import nn

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .detection import DetTaskAdapter
from .detr import DETRTaskAdapter

#: ``bank.context`` key of the encoded text prompts.
TEXT_KEY = 'text'


class TextConditioned:
    """The text-encoder handling shared by the language-conditioned
    adapters (a mixin for a :class:`TaskAdapter`).

    Subclasses name the text encoder's modules (:attr:`text_module_names`)
    and encode a batch's prompts as the base model's ``loss`` does
    (:meth:`encode_text`).
    """
    #: The base model's attributes that make up the text encoder.
    text_module_names = ('language_model', )

    def context_modules(self) -> List[nn.Module]:
        """The text encoder's modules (see the module docstring)."""
        return [getattr(self.model, n) for n in self.text_module_names
                if getattr(self.model, n, None) is not None]

    def encode_text(self, data_samples, device) -> dict:
        """The text features of ``data_samples``' prompts (the base
        model's ``loss`` up to ``extract_feat``)."""
        raise NotImplementedError

    def _positive_map(self, tokenized, tokens_positive, labels):
        """The base model's positive map of the gt ``labels`` (the tokens
        of each box's class name)."""
        return self.model.get_positive_map(
            tokenized, [tokens_positive[label] for label in labels])[1]

    def prepare(self, inputs, data_samples, bank, real_head=True) -> None:
        """Encode the batch's prompts, once per iteration: with a graph if
        the real head runs here (it alone trains the text encoder)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and real_head):
            text = self.encode_text(data_samples, inputs.device)
        bank.context[TEXT_KEY] = (data_samples, text)

    def _captions_and_positive_maps(self, text_prompts, gt_labels):
        """The captions the text encoder reads and each sample's positive
        map, as GroundingDINO's and GLIP's ``loss`` derive them from the
        class-name prompts (one tokenisation when all prompts are equal)."""
        model = self.model
        if len(set(text_prompts)) == 1:
            tokenized, caption, tokens_positive, _ = \
                model.get_tokens_and_prompts(text_prompts[0], True)
            return [caption] * len(text_prompts), [
                self._positive_map(tokenized, tokens_positive, labels)
                for labels in gt_labels]
        captions, positive_maps = [], []
        for prompt, labels in zip(text_prompts, gt_labels):
            tokenized, caption, tokens_positive, _ = \
                model.get_tokens_and_prompts(prompt, True)
            positive_maps.append(
                self._positive_map(tokenized, tokens_positive, labels))
            captions.append(caption)
        return captions, positive_maps

    def text_features(self, data_samples, bank, real: bool,
                      device) -> dict:
        """The iteration's text features for one head.

        Args:
            data_samples (list): The batch's data samples.
            bank (FeatureBank | None): Where :meth:`prepare` left them.
            real (bool): For the last module's real head (live) or an aux
                net (detached).
            device (torch.device): The batch's device (when they must be
                encoded here: a loss computed outside ``local_steps``).

        Returns:
            dict: A fresh dict per call (GLIP's head writes into it).
        """
        context = getattr(bank, 'context', None)
        entry = context.get(TEXT_KEY) if context is not None else None
        if entry is None or entry[0] is not data_samples:
            # Not prepared: encoded here (with a graph, which a later real
            # head reusing it needs), once per recording bank.
            text = self.encode_text(data_samples, device)
            if context is not None and getattr(bank, 'recording', False):
                context[TEXT_KEY] = (data_samples, text)
        else:
            text = entry[1]
        if real:
            return dict(text)
        return {k: v.detach() if isinstance(v, torch.Tensor) else v
                for k, v in text.items()}


def _device_of(feats):
    """The device of a local module's features (``{stage: tensor}``, a
    tensor or a tuple)."""
    if isinstance(feats, torch.Tensor):
        return feats.device
    values = feats.values() if isinstance(feats, dict) else feats
    return next(f for f in values if isinstance(f, torch.Tensor)).device


@TASK_ADAPTERS.register_module()
class GroundingDINOTaskAdapter(TextConditioned, DETRTaskAdapter):
    """mmdet ``GroundingDINO`` (and MM-Grounding-DINO): DINO whose encoder,
    decoder and contrastive classification head fuse the image features
    with the token features of the text prompts.

    The image head is :class:`DETRTaskAdapter`'s (every child module but
    the backbone, the preprocessor and the text encoder); the text encoder
    -- ``language_model`` (BERT) and ``text_feat_map`` -- runs once per
    iteration, and only the last module's real loss trains it (module
    docstring). The loss is ``GroundingDINO.loss`` after its text encoding
    and ``extract_feat``: ``forward_transformer(feats, text_dict, ...)``
    then ``bbox_head.loss``.
    """
    text_module_names = ('language_model', 'text_feat_map')
    refused = {}
    supported_names = 'mmdet GroundingDINO, MM-Grounding-DINO'

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.detectors', 'GroundingDINO')

    @property
    def head_names(self) -> List[str]:
        return [n for n in super().head_names
                if n not in self.text_module_names]

    def encode_text(self, data_samples, device) -> Dict:
        """``GroundingDINO.loss`` (mmdet 3.3) up to ``extract_feat``: the
        text features, and each data sample's ``positive_maps`` and
        ``text_token_mask``."""
        model = self.model
        text_prompts = [s.text for s in data_samples]
        gt_labels = [s.gt_instances.labels for s in data_samples]
        if 'tokens_positive' in data_samples[0]:
            positive_maps = []
            for sample, prompt, labels in zip(data_samples, text_prompts,
                                              gt_labels):
                tokenized = model.language_model.tokenizer(
                    [prompt],
                    padding='max_length'
                    if model.language_model.pad_to_max else 'longest',
                    return_tensors='pt')
                positive = [sample.tokens_positive[label.item()]
                            for label in labels]
                positive_maps.append(
                    model.get_positive_map(tokenized, positive)[1])
            new_prompts = text_prompts
        else:
            new_prompts, positive_maps = self._captions_and_positive_maps(
                text_prompts, gt_labels)

        text_dict = model.language_model(new_prompts)
        if model.text_feat_map is not None:
            text_dict['embedded'] = model.text_feat_map(text_dict['embedded'])
        for i, sample in enumerate(data_samples):
            positive_map = positive_maps[i].to(device).bool().float()
            mask = text_dict['text_token_mask'][i]
            sample.gt_instances.positive_maps = positive_map
            sample.gt_instances.text_token_mask = mask.unsqueeze(0).repeat(
                len(positive_map), 1)
        return text_dict

    def loss(self, feats, data_samples, heads=None, bank=None):
        """``GroundingDINO.loss`` from ``feats`` (``{stage: tensor}``, or
        the last stage's tensor), completed from ``bank``, on the
        iteration's text features (live for the real head, ``heads is
        None``; detached for an aux net)."""
        real = heads is None
        text = self.text_features(data_samples, bank, real,
                                  _device_of(feats))
        heads = self.head_modules() if heads is None else heads
        named = dict(zip(self._head_keys(), heads))
        x = self.neck_inputs(feats, bank)
        neck = named.pop('neck', None)
        if neck is not None:
            x = neck(x)
        runner = self._runner(named)
        head_inputs = runner.forward_transformer(x, text, data_samples)
        return runner.bbox_head.loss(
            **head_inputs, batch_data_samples=data_samples)


@TASK_ADAPTERS.register_module()
class GLIPTaskAdapter(TextConditioned, DetTaskAdapter):
    """mmdet ``GLIP``: FPN features -> ``ATSSVLFusionHead``, whose dynamic
    head fuses them with the BERT features of the text prompts and scores
    anchors against the tokens.

    Neck and head are :class:`DetTaskAdapter`'s; the text encoder
    (``language_model``) runs once per iteration and only the last
    module's real loss trains it (module docstring). The loss is
    ``GLIP.loss`` after its text encoding and ``extract_feat``:
    ``bbox_head.loss(feats, text_dict, data_samples)``.
    """
    supported_names = 'mmdet GLIP'
    refused = {}

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.detectors', 'GLIP')

    def encode_text(self, data_samples, device) -> Dict:
        """``GLIP.loss`` (mmdet 3.3) up to ``extract_feat``: the text
        features, and each data sample's ``positive_maps``."""
        model = self.model
        text_prompts = [s.text for s in data_samples]
        gt_labels = [s.gt_instances.labels for s in data_samples]
        new_prompts, positive_maps = self._captions_and_positive_maps(
            text_prompts, gt_labels)
        text_dict = model.language_model(new_prompts)
        for sample, positive_map in zip(data_samples, positive_maps):
            # .bool().float() as GLIP.loss ("very important").
            sample.gt_instances.positive_maps = positive_map.to(
                device).bool().float()
        return text_dict

    def loss(self, feats, data_samples, heads=None, bank=None):
        """``GLIP.loss`` from ``feats`` (``{stage: tensor}``, or the last
        stage's tensor), completed from ``bank``, on the iteration's text
        features (live for the real head, detached for an aux net)."""
        real = heads is None
        text = self.text_features(data_samples, bank, real,
                                  _device_of(feats))
        heads = self.default_heads(heads)
        neck, head = heads if heads is not None else (
            getattr(self.model, 'neck', None), self.model.bbox_head)
        x = self.neck_inputs(feats, bank)
        if neck is not None:
            x = neck(x)
        return head.loss(x, text, data_samples)
