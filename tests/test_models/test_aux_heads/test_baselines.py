"""The Table 1 baselines' aux nets follow their authors' code."""
import pytest
import torch
from torch import nn

from man_mm.models.aux_heads.auglocal import sample_later_units
from man_mm.models.aux_heads.infopro import InfoProHead, supcon_loss
from man_mm.models.aux_heads.predsim import pooled_size, similarity_matrix
from tests.helpers import fake_batch, local_model, sgd_wrapper


def reference_similarity(x):
    """local-loss ``similarity_matrix`` (train.py), as AugLocal copies it."""
    if x.dim() == 4:
        if x.size(1) > 3 and x.size(2) > 1:
            z = x.view(x.size(0), x.size(1), -1)
            x = z.std(dim=2)
        else:
            x = x.view(x.size(0), -1)
    xc = x - x.mean(dim=1).unsqueeze(1)
    xn = xc / (1e-8 + torch.sqrt(torch.sum(xc**2, dim=1))).unsqueeze(1)
    return xn.matmul(xn.t()).clamp(-1, 1)


def test_predsim_similarity_is_the_reference_formula():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(6, 8, 5, 5, generator=g)
    expected = reference_similarity(feats)
    torch.testing.assert_close(similarity_matrix(feats), expected)
    # Per-channel std, not the flattened map: a per-sample spatial shift
    # leaves the similarity unchanged.
    shifted = torch.roll(feats, shifts=(1, 2), dims=(2, 3))
    torch.testing.assert_close(similarity_matrix(shifted), expected)
    # One-hot targets: 1 within a class, -1/(C-1) across classes.
    onehot = torch.eye(4)[torch.tensor([0, 0, 1, 3])]
    sim = similarity_matrix(onehot)
    assert sim[0, 1].item() == pytest.approx(1.0)
    assert sim[0, 2].item() == pytest.approx(-1 / 3)
    assert sim.abs().max() <= 1.0


@pytest.mark.parametrize('channels,size,out', [(16, 32, (4, 8)),
                                                (32, 16, (4, 4)),
                                                (64, 8, (2, 4))])
def test_predsim_pools_to_augLocals_512_features(channels, size, out):
    assert pooled_size(channels, size, 512) == out
    assert channels * out[0] * out[1] == 512


@pytest.mark.parametrize('width,conv_out,stride', [(16, 32, 2), (32, 64, 2),
                                                   (64, 64, 1)])
def test_infopro_head_is_1c2f(width, conv_out, stride):
    head = InfoProHead(width, 10)
    kinds = [type(m) for m in head]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU,
                     nn.AdaptiveAvgPool2d, nn.Flatten, nn.Linear, nn.ReLU,
                     nn.Linear]
    conv, fc1, fc2 = head[0], head[5], head[7]
    assert (conv.in_channels, conv.out_channels) == (width, conv_out)
    assert conv.kernel_size == (3, 3) and conv.stride == (stride, stride)
    assert conv.bias is None
    assert (fc1.in_features, fc1.out_features) == (conv_out, 128)
    assert (fc2.in_features, fc2.out_features) == (128, 10)


def test_supcon_loss_prefers_classes_together():
    labels = torch.tensor([0, 0, 1, 1])
    together = torch.nn.functional.normalize(
        torch.tensor([[1., 0.], [1., .1], [0., 1.], [.1, 1.]]), dim=1)
    apart = together[[0, 2, 1, 3]]
    assert supcon_loss(together, labels) < supcon_loss(apart, labels)


def test_auglocal_samples_layers_uniformly():
    # AugLocal's sampling for ResNet-32 (layers 0..15) at depth 2.
    assert sample_later_units(0, 15, 2) == [8, 15]
    assert sample_later_units(7, 15, 2) == [11, 15]
    assert sample_later_units(13, 15, 2) == [14, 15]
    assert sample_later_units(14, 15, 3) == [15]


def test_auglocal_k16_has_13_aux_nets_of_depth_2():
    model = local_model(depth=32, aux=dict(type='man_mm.AugLocalClsAux'),
                        split_points=list(range(1, 14)))
    assert model.num_modules == 14 and len(model.aux_heads) == 13
    assert model.local_modules[-1].unit_names == [
        'layer3.2', 'layer3.3', 'layer3.4']
    assert all(len(a.blocks) == 2 for a in model.aux_heads)
    # The stem's aux: layer2's and layer3's first blocks (16->32->64).
    first = model.aux_heads[0].blocks
    assert [b.conv1.in_channels for b in first] == [16, 32]


def test_auglocal_depth_one_has_batchnorm1d():
    model = local_model(depth=20, num_modules=4, aux=dict(
        type='man_mm.AugLocalClsAux', depth=1, pyramid_coeff=0))
    for aux in model.aux_heads:
        assert any(isinstance(m, nn.BatchNorm1d) for m in aux.classifier)


def test_dgl_aux_is_augLocals_mlp_sr():
    model = local_model(depth=20, num_modules=4,
                        aux=dict(type='man_mm.DGLClsAux'))
    aux = model.aux_heads[0]
    convs = [m for m in aux.convs if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and all(c.kernel_size == (1, 1) for c in convs)
    linears = [m for m in aux.mlp if isinstance(m, nn.Linear)]
    assert [lin.bias is None for lin in linears] == [True, True, False]
    c = convs[0].in_channels
    assert linears[0].in_features == 4 * c


@pytest.mark.parametrize('aux', [
    dict(type='man_mm.InfoProClsAux', cls_loss='contrast'),
    dict(type='man_mm.PredSimClsAux', pred_features=4096,
         zero_init_pred=True)])
def test_reference_switches_train(aux):
    model = local_model(depth=20, num_modules=4, aux=aux)
    log = model.train_step(fake_batch(8), sgd_wrapper(model))
    assert torch.isfinite(log['loss']) and torch.isfinite(log['loss_aux'])
