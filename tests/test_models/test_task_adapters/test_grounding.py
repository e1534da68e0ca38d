"""MAN on mmdet's language-conditioned detectors
(``task_adapters/grounding.py``), with tiny BERTs written offline: a tiny
GroundingDINO (mmdet's shipped R50 config on a ResNet-18, one encoder and
decoder layer, 10 queries) and a tiny GLIP (the shipped Swin-T "B" config:
early fusion, whose head writes into the text features; a 16-wide Swin of
depth 1 per stage, one dynamic-head block).

Checked as the other detectors are (``test_detr.py``): gradient isolation
(the text encoder reached by the real loss only), K=1 is BP (losses and
gradients, BERT's dropout and Swin's drop path on, so the random draws must
come in BP's order), local training keeps fewer activations than BP, the
stripped checkpoint loads into the plain model and predicts the same --
and the text encoder runs once per training step. (The activation-memory
check is GroundingDINO's only; see there.)
"""
import copy
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

import pytest  # noqa: E402
import torch  # noqa: E402
from mmengine.registry import MODELS, init_default_scope  # noqa: E402

from man_mm.models import LocalLearningModel  # noqa: E402
from man_mm.models.local_learning import StageSlice, local_steps  # noqa
from man_mm.testing import assert_gradient_isolated  # noqa: E402
from man_mm.utils import ActivationMemoryMeter  # noqa: E402
from tests.helpers import load_tool, sgd_wrapper  # noqa: E402

CLASSES = ('cat', 'dog', 'bird')

#: Key -> value of mmdet's config that makes the transformer small. The
#: width stays 256: GroundingDINO's encoder hard-codes a 256-wide sine
#: embedding of the text positions.
SMALL = dict(num_heads=2, feedforward_channels=64, num_layers=1,
             dropout=0.0, ffn_drop=0.0, num_points=2, num_groups=8)


def _shrink(cfg):
    if isinstance(cfg, dict):
        for key, value in list(cfg.items()):
            if key in SMALL:
                cfg[key] = SMALL[key]
            else:
                _shrink(value)
    elif isinstance(cfg, list):
        for value in cfg:
            _shrink(value)
    return cfg


def _tiny_bert(d, hidden_size):
    """A one-layer BERT of width ``hidden_size`` and its tokenizer, saved
    in ``d`` (a vocabulary of the special tokens and the class names)."""
    from transformers import BertConfig, BertModel, BertTokenizer
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', '?',
             *CLASSES]
    vocab_file = osp.join(d, 'vocab.txt')
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    cfg = BertConfig(hidden_size=hidden_size, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64,
                     vocab_size=len(vocab), max_position_embeddings=256)
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(d)
    BertTokenizer(vocab_file).save_pretrained(d)
    return d


@pytest.fixture(autouse=True)
def _mmdet(monkeypatch):
    init_default_scope('mmdet')
    # mmdet 3.3's BertModel hands BERT a 3-D attention mask (sub-sentence
    # masks), which the SDPA path of transformers >= 4.41 cannot take;
    # eager attention (what mmdet was written against) can.
    from transformers.models.bert.modeling_bert import BertPreTrainedModel
    monkeypatch.setattr(BertPreTrainedModel, '_supports_sdpa', False)
    yield


def grounding_dino(bert):
    """mmdet's shipped GroundingDINO R50 config on a ResNet-18 and the
    tiny BERT."""
    import mmdet
    from mmengine.config import Config, ConfigDict
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__), '.mim/configs/grounding_dino',
        'grounding_dino_r50_scratch_8xb2_1x_coco.py')).model.to_dict()
    _shrink(cfg)
    cfg['num_queries'] = 10
    cfg['backbone'].update(depth=18, init_cfg=None, zero_init_residual=False)
    cfg['neck']['in_channels'] = [128, 256, 512]
    cfg['encoder']['num_cp'] = 0  # checkpointing needs fairscale
    cfg['encoder']['fusion_layer_cfg']['embed_dim'] = 64
    # language_dim (text_feat_map's input) is read from BERT's config.
    cfg['language_model']['name'] = bert
    cfg['bbox_head']['contrastive_cfg']['max_text_len'] = 16
    cfg['dn_cfg']['group_cfg']['num_dn_queries'] = 6
    cfg['test_cfg']['max_per_img'] = 10
    return ConfigDict(cfg)


def glip(bert):
    """mmdet's shipped GLIP Swin-T "B" config (early fusion; the
    fine-tuning one, which sets the training losses) on a 16-wide Swin of
    depth 1 per stage, one dynamic-head block, and the tiny BERT.

    GLIP's widths stay: its head hard-codes 256 tokens as ``feat_channels``
    and its fusion a 768-wide language model (``VLFuse``'s ``l_dim``).
    """
    import mmdet
    from mmengine.config import Config, ConfigDict
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__), '.mim/configs/glip',
        'glip_atss_swin-t_b_fpn_dyhead_16xb2_ms-2x_funtune_coco.py')).model
    cfg = cfg.to_dict()
    cfg['backbone'].update(embed_dims=16, depths=[1, 1, 1, 1],
                           num_heads=[1, 1, 2, 2], drop_path_rate=0.1)
    cfg['neck']['in_channels'] = [32, 64, 128]
    cfg['bbox_head'].update(num_dyhead_blocks=1, lang_model_name=bert)
    cfg['language_model']['name'] = bert
    cfg['test_cfg']['score_thr'] = 0.0
    return ConfigDict(cfg)


def build(cfg, local=True, **kwargs):
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()  # level_embed is garbage before
    return LocalLearningModel(model, **kwargs) if local else model


def batch(seed=0, n=2, size=64):
    """Data samples as mmdet's pipeline packs them for GroundingDINO
    (``return_classes=True``: the class names as ``text``)."""
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    data = demo_mm_inputs(n, [[3, size, size]] * n, num_items=[3] * n,
                          num_classes=len(CLASSES))
    for sample in data['data_samples']:
        sample.set_metainfo(dict(text=CLASSES, custom_entities=True))
    return data


ADAPTERS = dict(grounding_dino='GroundingDINOTaskAdapter',
                glip='GLIPTaskAdapter')


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    return dict(
        grounding_dino=grounding_dino(_tiny_bert(
            str(tmp_path_factory.mktemp('bert32')), 32)),
        glip=glip(_tiny_bert(str(tmp_path_factory.mktemp('bert768')), 768)))


@pytest.fixture(params=list(ADAPTERS))
def kind(request, configs):
    return request.param, configs[request.param]


@pytest.fixture
def cfg(configs):
    return configs['grounding_dino']


def _params(modules):
    return {id(p) for m in modules for p in m.parameters()}


def test_the_text_encoder_is_a_context_module(kind):
    name, cfg = kind
    model = build(cfg, num_modules=3)
    task, base = model.task, model.model
    assert type(task).__name__ == ADAPTERS[name]
    assert task.context_modules() == [base.language_model] + (
        [base.text_feat_map] if name == 'grounding_dino' else [])
    head, text = _params(task.head_modules()), _params(
        task.context_modules())
    backbone = _params([base.backbone])
    assert head | text | backbone == _params([base])
    assert not head & text and not text & backbone
    # Not averaged over the modules sharing the head (one loss reaches
    # it), stepped once per iteration.
    assert not text & {id(p) for p in model._averaged_head_params}
    assert text <= {id(p) for p in model._final_params}


def test_gradient_isolation(kind):
    """Every aux loss reaches its module and the shared image head; the
    text encoder only gets the last module's real loss."""
    _, cfg = kind
    model = build(cfg, num_modules=3)
    assert_gradient_isolated(model, batch(), shared_head=True)


def test_own_heads_read_the_shared_text(kind):
    """``share_head=False``: the aux nets copy the image head, not the
    text encoder, and train."""
    _, cfg = kind
    model = build(cfg, num_modules=2,
                  aux=dict(type='man_mm.SLMDetAux', share_head=False))
    own = _params([model.aux_heads[0].own_heads])
    assert own and not own & _params(model.task.context_modules())
    log = model.train_step(batch(), sgd_wrapper(model, 0.01))
    assert torch.isfinite(log['loss']) and torch.isfinite(log['loss_aux'])


def test_k1_reproduces_bp(kind):
    """K=1 is BP: the same losses and gradients (BERT's included; its
    dropout and Swin's drop path on, so the random draws must come in BP's
    order), then the same parameters after two SGD steps."""
    name, cfg = kind
    torch.manual_seed(0)
    bp = build(cfg, local=False)
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    logs = []
    for model in (bp, local):
        model.train()
        data = model.data_preprocessor(batch(), True)
        torch.manual_seed(1)
        if model is bp:
            losses = model.loss(data['inputs'], data['data_samples'])
        else:
            losses = model(data['inputs'], data['data_samples'], 'loss')
        loss, log = model.parse_losses(losses)
        loss.backward()
        logs.append(log)
    for key, value in logs[0].items():
        torch.testing.assert_close(value, logs[1][key], msg=key)
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        assert (p.grad is None) == (q.grad is None), pname
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, msg=pname)
    words = bp.language_model.language_backbone.body.model.embeddings\
        .word_embeddings.weight
    assert words.grad.abs().sum() > 0

    bp.zero_grad()
    local.zero_grad()
    bp_optim, local_optim = sgd_wrapper(bp, 0.01), sgd_wrapper(local, 0.01)
    for step in range(2):
        logs = []
        for model, optim in ((bp, bp_optim), (local, local_optim)):
            data = batch(step)
            torch.manual_seed(step)
            logs.append(model.train_step(data, optim))
        torch.testing.assert_close(logs[0]['loss'], logs[1]['loss'])
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4,
                                   msg=f'{name}: {pname}')


def test_local_peak_is_below_bp(cfg):
    """GroundingDINO only: the tiny GLIP's peak is its head's (256 tokens
    by 256 channels over the whole pyramid, a 768-wide fusion) in BP and
    locally alike, next to which its 16-wide Swin is nothing to save."""
    peaks = {}
    for key in ('bp', 'local'):
        torch.manual_seed(0)
        model = build(cfg, local=key == 'local')
        with ActivationMemoryMeter.for_model(model) as meter:
            model.train_step(batch(size=128), sgd_wrapper(model, 0.0))
        peaks[key] = meter.peak_mib
    assert peaks['local'] < peaks['bp'], peaks


def test_stripped_checkpoint_predicts_like_the_local_model(kind):
    _, cfg = kind
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = build(cfg, num_modules=3)
    local.train_step(batch(), sgd_wrapper(
        local, lr=0.01, clip_grad=dict(max_norm=0.1, norm_type=2)))
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(copy.deepcopy(cfg))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = batch(1)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    for a, b in zip(ours, theirs):
        assert len(a.pred_instances) > 0
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(a.pred_instances[key],
                                       b.pred_instances[key])


def test_the_text_encoder_runs_once_per_step(kind):
    """K=3 modules, one text forward per training step (also when the same
    batch comes again), none in the aux nets' heads."""
    _, cfg = kind
    model = build(cfg, num_modules=3)
    encoder = model.task.context_modules()
    calls = [0] * len(encoder)
    for i, module in enumerate(encoder):
        def count(*_, i=i):
            calls[i] += 1
        module.register_forward_hook(count)
    optim = sgd_wrapper(model, 0.01)
    data = batch()
    model.train_step(data, optim)
    assert calls == [1] * len(encoder)
    model.train_step(data, optim)
    assert calls == [2] * len(encoder)


def test_no_text_graph_where_the_real_head_does_not_run(cfg):
    """A pipeline stage that ends before the last module encodes the text
    once, without a graph (its aux nets read it detached anyway)."""
    model = build(cfg, num_modules=3)
    model.train()
    data = model.data_preprocessor(batch(), True)
    for step in local_steps(model, data['inputs'], data['data_samples'],
                            stage=StageSlice(0, 1)):
        model.parse_losses(step.losses)[0].backward()
    _, text = model.feature_bank.context['text']
    assert not text['embedded'].requires_grad
    assert all(p.grad is None for m in model.task.context_modules()
               for p in m.parameters())
    for step in local_steps(model, data['inputs'], data['data_samples']):
        pass
    _, text = model.feature_bank.context['text']
    assert text['embedded'].requires_grad  # the last module trains it
