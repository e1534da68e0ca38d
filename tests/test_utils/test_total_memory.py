"""TotalMemoryMeter: the true peak a GPU would hold, measured on CPU."""
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from man_mm.utils import ActivationMemoryMeter, TotalMemoryMeter


def test_static_part_is_weights_and_optimizer_state():
    lin = nn.Linear(256, 256)
    optim = torch.optim.Adam(lin.parameters())
    lin(torch.randn(4, 256)).sum().backward()
    optim.step()
    optim.zero_grad(set_to_none=True)
    param_bytes = sum(p.numel() * 4 for p in lin.parameters())
    meter = TotalMemoryMeter.for_training(lin, optim)
    # Adam keeps exp_avg and exp_avg_sq per parameter (+ tiny step counts).
    assert 3 * param_bytes <= meter.static_bytes < 3 * param_bytes + 64


def test_counts_gradients_and_temporaries_that_saved_tensors_miss():
    lin = nn.Linear(512, 512, bias=False)
    x = torch.randn(64, 512)
    with ActivationMemoryMeter.for_model(lin) as saved, \
            TotalMemoryMeter.for_training(lin) as total:
        lin(x).relu().sum().backward()
    # Saved: x (for the weight grad) and the relu output.
    assert saved.peak_bytes == 2 * 64 * 512 * 4
    # The weight gradient (1 MiB) is alive at the end on top of the weight.
    weight = 512 * 512 * 4
    assert total.static_bytes == weight
    assert total.current_bytes >= weight  # lin.weight.grad
    assert total.peak_dynamic_bytes >= weight + 64 * 512 * 4
    lin.weight.grad = None
    assert total.current_bytes < weight


def test_sees_tensors_recomputed_by_checkpointing():
    """The saved-tensor meter under-counts checkpointed code (it misses the
    recomputation); the total meter does not."""
    block = nn.Sequential(*[nn.Linear(256, 256) for _ in range(4)])
    x = torch.randn(256, 256, requires_grad=True)

    def peaks(use_cp):
        with ActivationMemoryMeter.for_model(block) as saved, \
                TotalMemoryMeter.for_training(block) as total:
            y = checkpoint(block, x, use_reentrant=False) if use_cp \
                else block(x)
            y.sum().backward()
        block.zero_grad(set_to_none=True)
        x.grad = None
        return saved.peak_bytes, total.peak_dynamic_bytes

    saved_plain, total_plain = peaks(False)
    saved_cp, total_cp = peaks(True)
    assert saved_cp < saved_plain / 2
    # Recomputation brings the activations back during backward.
    assert total_cp > saved_cp + 3 * 256 * 256 * 4
    assert total_cp <= total_plain


def test_freed_tensors_leave_the_count():
    with TotalMemoryMeter() as meter:
        a = torch.ones(1000, 1000)
        b = a * 2
        assert meter.current_bytes == 8 * 10**6
        del a
        assert meter.current_bytes == 4 * 10**6
        del b
    assert meter.current_bytes == 0 and meter.peak_bytes == 8 * 10**6
