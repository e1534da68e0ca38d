"""Task adapter for mmagic's single-image super-resolution models."""
from types import SimpleNamespace
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .base import TaskAdapter, reaches, types_except

#: ``BaseEditModel`` subclasses that :class:`EditTaskAdapter` leaves to
#: another adapter (with their subclasses): the adversarially trained
#: restorers, :class:`~.adversarial_editing.SRGANTaskAdapter`'s.
ADVERSARIAL_EDIT = {'SRGAN': 'adversarial training: SRGANTaskAdapter'}


def _graph_nodes(root) -> set:
    """Every autograd node in the graph below ``root`` (one walk, for
    several :func:`reaches`-style membership tests)."""
    seen, stack = set(), [root] if root is not None else []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return seen


def _msrresnet_tail(gen, h, feats, shallow, image, samples):
    """``MSRResNet.forward`` after ``trunk_net``: upsampling, ``conv_hr``,
    ``conv_last``, plus the bilinearly upsampled input image (its only
    global skip: an image, not a feature)."""
    out = h['upsample1'](feats)
    if gen.upscale_factor == 4:
        out = h['upsample2'](out)
    out = h['conv_last'](gen.lrelu(h['conv_hr'](out)))
    return out + gen.img_upsampler(image())


def _rrdbnet_tail(gen, h, feats, shallow, image, samples):
    """``RRDBNet.forward`` after ``body``: ``conv_body``, the global skip,
    two nearest x2 upsamplings with convs, ``conv_hr``, ``conv_last``."""
    feat = h['conv_body'](feats)
    if shallow is not None:
        feat = shallow + feat
    feat = gen.lrelu(h['conv_up1'](
        F.interpolate(feat, scale_factor=2, mode='nearest')))
    feat = gen.lrelu(h['conv_up2'](
        F.interpolate(feat, scale_factor=2, mode='nearest')))
    return h['conv_last'](gen.lrelu(h['conv_hr'](feat)))


def _swinir_tail(gen, h, feats, shallow, image, samples):
    """``SwinIRNet.forward`` after ``forward_features``: ``conv_after_body``,
    the global skip, the upsampler branch (or, for ``upsampler=''``, the
    image residual), de-normalisation and the crop to the target size (the
    generator crops to ``upscale`` x its unpadded input, which is
    ``gt_img``'s size whenever its pixel loss is defined)."""
    gt = samples.gt_img
    x = h['conv_after_body'](feats)
    if shallow is not None:
        x = x + shallow
    if gen.upsampler == 'pixelshuffle':
        x = h['conv_last'](h['upsample'](h['conv_before_upsample'](x)))
    elif gen.upsampler == 'pixelshuffledirect':
        x = h['upsample'](x)
    elif gen.upsampler == 'nearest+conv':
        x = h['conv_before_upsample'](x)
        x = gen.lrelu(h['conv_up1'](
            F.interpolate(x, scale_factor=2, mode='nearest')))
        if gen.upscale == 4:
            x = gen.lrelu(h['conv_up2'](
                F.interpolate(x, scale_factor=2, mode='nearest')))
        x = h['conv_last'](gen.lrelu(h['conv_hr'](x)))
    else:
        x = image() + h['conv_last'](x)
    x = x / gen.img_range + gen.mean.to(x)
    return x[:, :, :gt.shape[-2], :gt.shape[-1]]


def _rdn_fused(h, feats, shallow):
    """RDN's global feature fusion of all ``num_blocks`` RDB outputs
    (``feats``: a list of them, see :meth:`EditTaskAdapter.dense_features`)
    and the global skip that adds ``sfe1``'s output."""
    if isinstance(feats, torch.Tensor):  # one RDB: no other to read
        feats = [feats]
    x = h['gff'](torch.cat(list(feats), 1))
    return x if shallow is None else x + shallow


def _rdn_tail(gen, h, feats, shallow, image, samples):
    """``RDNNet.forward`` after its RDBs: the fusion and global skip
    (:func:`_rdn_fused`), ``upscale`` and ``output``."""
    return h['output'](h['upscale'](_rdn_fused(h, feats, shallow)))


def _srcnn_tail(gen, h, feats, shallow, image, samples):
    """``SRCNNNet.forward`` after ``relu(conv2)``: ``conv3`` (no skip)."""
    return h['conv3'](feats)


def _liif_query(gen, h, feature, samples):
    """``LIIFNet.query_rgb`` of ``feature`` with the head's ``imnet`` (the
    generator's, or an aux's copy), at the HR coordinates and cells the
    data samples carry, as ``LIIF.forward_tensor`` passes them."""
    coord = torch.stack(samples.metainfo['coord']).to(feature)
    cell = torch.stack(samples.metainfo['cell']).to(feature)
    # query_rgb reads only these four attributes of the generator.
    net = SimpleNamespace(imnet=h['imnet'], feat_unfold=gen.feat_unfold,
                          local_ensemble=gen.local_ensemble,
                          cell_decode=gen.cell_decode)
    return type(gen).query_rgb(net, feature, coord, cell)


def _liif_edsr_tail(gen, h, feats, shallow, image, samples):
    """``LIIFEDSRNet.forward`` after ``body``: ``conv_after_body``, the
    global skip, then the implicit query."""
    res = h['conv_after_body'](feats)
    if shallow is not None:
        res = res + shallow
    return _liif_query(gen, h, res, samples)


def _liif_rdn_tail(gen, h, feats, shallow, image, samples):
    """``LIIFRDNNet.forward`` after its RDBs: the fusion and global skip
    (:func:`_rdn_fused`), then the implicit query."""
    return _liif_query(gen, h, _rdn_fused(h, feats, shallow), samples)


class GeneratorTail(NamedTuple):
    """How :class:`EditTaskAdapter` replays a generator after its body.

    Attributes:
        head_names (tuple[str]): The generator's modules after its split
            body (the task head).
        tail (callable): ``tail(gen, heads, feats, shallow, image,
            samples)`` replays the generator's forward from the body output
            (``samples``: the stacked data sample, whose ``gt_img`` gives
            SwinIR's crop and whose coordinates LIIF queries).
        feature_skip (bool): Whether the tail adds the shallow feature back
            (the global skip).
        shallow (str): The generator's module whose output is the shallow
            feature.
        dense (tuple[str]): Bank keys (base-model paths) of body outputs
            the tail reads besides the last one (RDN's gff reads every RDB
            output), in forward order.
    """
    head_names: Sequence[str]
    tail: Callable
    feature_skip: bool
    shallow: str = 'conv_first'
    dense: Sequence[str] = ()


def generator_tail(generator: nn.Module) -> Optional[GeneratorTail]:
    """The :class:`GeneratorTail` of a generator other than EDSR (None for
    ``EDSRNet``, whose tail :meth:`EditTaskAdapter.loss` runs itself)."""
    names = {k.__name__ for k in type(generator).__mro__}
    if 'LIIFEDSRNet' in names:
        return GeneratorTail(('conv_after_body', 'imnet'), _liif_edsr_tail,
                             True)
    if 'LIIFRDNNet' in names:
        dense = tuple(f'generator.rdbs.{i}'
                      for i in range(len(generator.rdbs) - 1))
        return GeneratorTail(('gff', 'imnet'), _liif_rdn_tail, True,
                             shallow='sfe1', dense=dense)
    if 'MSRResNet' in names:
        heads = ('upsample1', ) + (
            ('upsample2', ) if generator.upscale_factor == 4 else ()) + (
                'conv_hr', 'conv_last')
        return GeneratorTail(heads, _msrresnet_tail, False)
    if 'RRDBNet' in names:
        return GeneratorTail(('conv_body', 'conv_up1', 'conv_up2', 'conv_hr',
                              'conv_last'), _rrdbnet_tail, True)
    if 'RDNNet' in names:
        dense = tuple(f'generator.rdbs.{i}'
                      for i in range(len(generator.rdbs) - 1))
        return GeneratorTail(('gff', 'upscale', 'output'), _rdn_tail, True,
                             shallow='sfe1', dense=dense)
    if 'SRCNNNet' in names:
        return GeneratorTail(('conv3', ), _srcnn_tail, False)
    if 'SwinIRNet' in names:
        heads = {
            'pixelshuffle': ('conv_before_upsample', 'upsample',
                             'conv_last'),
            'pixelshuffledirect': ('upsample', ),
            'nearest+conv': ('conv_before_upsample', 'conv_up1') +
            (('conv_up2', ) if generator.upscale == 4 else ()) +
            ('conv_hr', 'conv_last'),
        }.get(generator.upsampler, ('conv_last', ))
        return GeneratorTail(('conv_after_body', ) + heads, _swinir_tail,
                             True)
    return None


@TASK_ADAPTERS.register_module()
class EditTaskAdapter(TaskAdapter):
    """mmagic ``BaseEditModel`` with an EDSR-style generator.

    The split network is the generator (``model.generator``); its tail --
    ``conv_after_body``, the global skip, ``upsample``, ``conv_last`` and
    de-normalisation -- is the task head, and the task loss is the base
    model's own ``pixel_loss`` against ``data_samples.gt_img``, exactly as
    ``BaseEditModel.forward_train`` computes it.

    The global skip adds the *shallow feature* (``conv_first``'s output).
    The feature bank keeps it, detached, under ``'generator.conv_first'``
    for the modules that come after the one holding ``conv_first``. The
    module that computes it (module 0, or the only module at K=1) uses it
    live instead, so its gradient reaches ``conv_first`` through the skip as
    in the real network, and K=1 is BP.

    ``MSRResNet``, ``RRDBNet``, ``SwinIRNet``, ``RDNNet``, ``SRCNNNet`` and
    LIIF's ``LIIFEDSRNet`` and ``LIIFRDNNet`` (whose tail queries the
    feature map at the data samples' HR coordinates) have their own tails
    (:func:`generator_tail`): ``head_names``,
    ``required_taps`` and :attr:`shallow_key` are then set per instance,
    and image skips (MSRResNet's upsampled input, SwinIR-``upsampler=''``'s
    input residual) read ``conv_first``'s input, recorded in training and
    kept in the bank under :attr:`image_key`. RDN's shallow feature is
    ``sfe1``'s output, and its gff reads every RDB output: the bank keeps
    them all but the last (:attr:`dense_keys`), and
    :meth:`dense_features` assembles the gff's input for a module.
    GAN-trained restorers (``SRGAN`` and subclasses) have their own
    adapter, :class:`~.adversarial_editing.SRGANTaskAdapter`.
    """
    head_names = ('conv_after_body', 'upsample', 'conv_last')
    #: The shallow feature: the generator's ``conv_first`` output.
    shallow_key = 'generator.conv_first'
    required_taps = (shallow_key, )
    default_aux = 'man_mm.SLMSRAux'
    backbone_role = 'generator'
    supported_names = ('mmagic BaseEditModel (single-image SR: EDSR, '
                       'generator with conv_first/body/conv_after_body/'
                       'upsample/conv_last; MSRResNet, RRDBNet, SwinIRNet, '
                       'RDNNet, SRCNNNet; LIIF with LIIFEDSRNet or '
                       'LIIFRDNNet)')
    #: Bank key of the generator's input image as ``conv_first`` sees it
    #: (MSRResNet's and SwinIR-``upsampler=''``'s image skip).
    image_key = 'generator.conv_first.input'
    #: Bank keys of the body outputs the tail reads besides the last one
    #: (RDN: every RDB's but the last), in forward order.
    dense_keys: Sequence[str] = ()

    @classmethod
    def supported_types(cls):
        return types_except(
            optional_types('mmagic.models.base_models', 'BaseEditModel'),
            ADVERSARIAL_EDIT)

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self._live_shallow = None
        self._image = None
        # Other generators than EDSR: their own tail (instance attributes
        # override the class's EDSR ones).
        tail = generator_tail(self.backbone)
        self._tail = None
        shallow = 'conv_first'
        if tail is not None:
            self.head_names, self._tail = tail.head_names, tail.tail
            shallow = tail.shallow
            self.shallow_key = f'generator.{shallow}'
            self.dense_keys = tuple(tail.dense)
            self.required_taps = ((self.shallow_key, ) if tail.feature_skip
                                  else ()) + self.dense_keys
        first = getattr(self.backbone, shallow, None)
        if first is not None:
            first.register_forward_hook(self._keep_live_shallow)
            if self._tail is not None:
                first.register_forward_pre_hook(self._keep_image)

    @property
    def backbone(self) -> nn.Module:
        return self.model.generator

    def head_modules(self) -> List[nn.Module]:
        return [getattr(self.backbone, n) for n in self.head_names]

    def _keep_live_shallow(self, module, inputs, output):
        # Only in training forwards that build a graph (local steps).
        if module.training and torch.is_grad_enabled():
            self._live_shallow = output

    def _keep_image(self, module, inputs):
        # The image carries no gradient: any module may read it.
        if module.training and torch.is_grad_enabled():
            self._image = inputs[0].detach()

    def image(self, bank=None) -> torch.Tensor:
        """The generator's input as ``conv_first`` sees it, this iteration:
        from the bank, else as recorded by ``conv_first`` (then also put in
        the bank, for the modules after this one)."""
        if bank is not None and self.image_key in bank:
            return bank[self.image_key]
        if self._image is None:
            raise KeyError('the image skip needs the generator input '
                           f'({self.image_key!r}); no conv_first ran.')
        if bank is not None:
            bank.put(self.image_key, self._image)
        return self._image

    def shallow_feature(self, feats: torch.Tensor, bank) -> torch.Tensor:
        """The shallow feature for the global skip of ``feats``'s module:
        live if that module computed it (it is in ``feats``'s graph),
        otherwise the bank's detached copy."""
        live = self._live_shallow
        if live is not None and reaches(feats.grad_fn, live.grad_fn):
            return live
        if bank is None:
            raise KeyError('the global skip needs the shallow feature from '
                           'the feature bank, and no bank was given.')
        return bank[self.shallow_key]

    def dense_features(self, feats: torch.Tensor,
                       bank) -> List[torch.Tensor]:
        """RDN: the outputs of all ``num_blocks`` RDBs, for the gff of the
        module whose last RDB output -- or whose SLM block's output --
        ``feats`` is.

        As a detector's neck inputs (:meth:`DetTaskAdapter.neck_inputs`):
        an RDB output that ``feats``'s module computed itself is used live
        (the gff's gradient reaches its RDBs through the dense skip, as in
        BP; with K = 1 all are), one of an earlier module comes from the
        bank, detached, and one not yet computed this iteration -- the
        RDBs after an aux's module -- is ``feats``, the SLM output standing
        in for every later RDB. The last slot is ``feats``. Without a bank
        (``adapt=False``), ``feats`` fills every slot.
        """
        if bank is None:
            return [feats] * (len(self.dense_keys) + 1)
        nodes = _graph_nodes(feats.grad_fn)
        out = []
        for key in self.dense_keys:
            live = bank.live(key) if hasattr(bank, 'live') else None
            if live is not None and live.grad_fn in nodes:
                out.append(live)
            elif key in bank:
                out.append(bank[key])
            else:
                out.append(feats)
        out.append(feats)
        return out

    def loss(self, feats, data_samples, heads=None, bank=None,
             global_skip: bool = True) -> Dict[str, torch.Tensor]:
        """Pixel loss of the image reconstructed from body features.

        Args:
            feats (Tensor): Body features (a local module's output, or its
                aux's SLM block output), ``(N, mid_channels, h, w)``.
            data_samples (DataSample): The stacked mmagic data sample
                (``gt_img`` normalised by the data preprocessor).
            heads (list[nn.Module], optional): The tail modules
                (:attr:`head_names`) to run; the generator's own by default
                (the last module: the real tail).
            bank (FeatureBank, optional): Source of the shallow feature.
            global_skip (bool): Add the shallow feature before upsampling
                (EDSR's global residual). Defaults to True.

        Returns:
            dict[str, Tensor]: ``{'loss': pixel loss}``, as
            ``BaseEditModel.forward_train``.
        """
        out = self.reconstruct(feats, data_samples, heads, bank, global_skip)
        return dict(loss=self.model.pixel_loss(out, data_samples.gt_img))

    def reconstruct(self, feats, data_samples, heads=None, bank=None,
                    global_skip: bool = True) -> torch.Tensor:
        """The generator's output image from body features: the tail
        (``heads``, or the generator's own) with its skips. Arguments as
        :meth:`loss`.

        Returns:
            Tensor: The image, as the generator's ``forward`` returns it.
        """
        real = heads is None
        if self._tail is not None:
            heads = dict(zip(self.head_names,
                             self.head_modules() if real else heads))
            shallow = self.shallow_feature(feats, bank) \
                if global_skip and self.shallow_key in self.required_taps \
                else None
            if self.dense_keys:
                feats = self.dense_features(feats, bank)
            out = self._tail(self.backbone, heads, feats, shallow,
                             lambda: self.image(bank), data_samples)
        else:
            conv_after_body, upsample, conv_last = \
                self.head_modules() if real else heads
            generator = self.backbone
            res = conv_after_body(feats)
            if global_skip:
                res = res + self.shallow_feature(feats, bank)
            out = conv_last(upsample(res))
            out = out * generator.std.to(out) + generator.mean.to(out)
        if real:  # the last module of the iteration: drop the reference
            self._live_shallow = None
        return out
