import torch
from torch import nn

from man_mm.utils import ActivationMemoryMeter


def test_counts_saved_activations_not_parameters():
    lin = nn.Linear(256, 256, bias=False)
    x = torch.randn(64, 256, requires_grad=True)
    with ActivationMemoryMeter.for_model(lin) as meter:
        y = torch.relu(lin(x))          # saves x (for the weight grad) and y
        y.sum().backward()
    assert meter.peak_bytes == 2 * 64 * 256 * 4
    assert meter.current_bytes == 0     # graph freed -> nothing alive


def test_freed_graphs_lower_the_peak():
    x = torch.randn(1024, 1024, requires_grad=True)
    with ActivationMemoryMeter() as together:
        loss = sum((x * float(i)).exp().sum() for i in range(4))
        loss.backward()
    with ActivationMemoryMeter() as one_at_a_time:
        for i in range(4):
            (x * float(i)).exp().sum().backward()
    assert one_at_a_time.peak_bytes * 4 == together.peak_bytes


def test_track_counts_extra_live_tensors():
    with ActivationMemoryMeter() as meter:
        t = torch.zeros(1000)
        meter.track(t)
        assert meter.current_bytes == 4000
        del t
    assert meter.current_bytes == 0 and meter.peak_bytes == 4000
