"""Point-to-point hand-off between neighbouring pipeline stages.

A stage sends the next one, per batch: its detached output, the batch's data
samples (any picklable objects: mmdet's instances, mmpretrain's labels) and
the feature-bank entries later stages read. Nothing travels backwards:
local learning needs no gradient from later modules.

Everything goes through torch.distributed's ``isend``/``irecv`` (gloo on
CPU, NCCL on GPUs). A message is a header (the payload's length), a payload
(the data samples and the tensors' shapes and dtypes, serialised with
``torch.save`` so that variable shapes and non-tensor samples work) and the
tensors themselves, sent raw. Sends are asynchronous: the sender finishes
its iteration (the optimizer steps) while the data travels, and waits for
delivery before its next batch, so the sent tensors do not stay alive
through the next batch's compute.
"""
import io
import time
from typing import Dict, List, Tuple

import torch
import torch.distributed as dist


class StageLink:
    """Sends to the next stage and receives from the previous one.

    Args:
        device (torch.device): Where received tensors live (and, for NCCL,
            where sent ones must be).

    Attributes:
        stats (dict): ``sent_bytes``, ``recv_bytes``, ``send_s`` (time
            spent issuing sends and waiting for the previous one) and
            ``recv_wait_s`` (time blocked receiving: the previous stage's
            compute not yet done plus the transfer), summed since
            :meth:`reset_stats`.
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self._in_flight: List[tuple] = []
        self.reset_stats()

    def reset_stats(self) -> None:
        """Zero :attr:`stats`."""
        self.stats = dict(sent_bytes=0, recv_bytes=0, send_s=0.,
                          recv_wait_s=0.)

    def send(self, dst: int, output: torch.Tensor, data_samples,
             bank: Dict[str, torch.Tensor]) -> None:
        """Send one batch's hand-off to global rank ``dst``, asynchronously.

        Args:
            dst (int): The next stage's global rank.
            output (Tensor): The stage's detached output.
            data_samples: The batch's data samples.
            bank (dict[str, Tensor]): The bank entries to hand on.
        """
        start = time.perf_counter()
        self.wait_sent()
        tensors = [('', output)] + sorted(bank.items())
        meta = dict(samples=data_samples,
                    tensors=[(k, tuple(t.shape), t.dtype) for k, t in tensors])
        buffer = io.BytesIO()
        torch.save(meta, buffer)
        payload = torch.frombuffer(bytearray(buffer.getvalue()),
                                   dtype=torch.uint8).to(self.device)
        header = torch.tensor([payload.numel()], dtype=torch.int64,
                              device=self.device)
        raw = [t.detach().contiguous() for _, t in tensors]
        ops = [dist.P2POp(dist.isend, t, dst) for t in [header, payload] + raw]
        works = dist.batch_isend_irecv(ops)
        # The buffers must outlive the sends.
        self._in_flight = [works, header, payload, raw]
        self.stats['sent_bytes'] += sum(
            t.numel() * t.element_size() for t in [header, payload] + raw)
        self.stats['send_s'] += time.perf_counter() - start

    def wait_sent(self) -> None:
        """Block until the last :meth:`send` is delivered."""
        if self._in_flight:
            for work in self._in_flight[0]:
                work.wait()
            self._in_flight = []

    def recv(self, src: int) -> Tuple[torch.Tensor, object,
                                      Dict[str, torch.Tensor]]:
        """Receive one batch's hand-off from global rank ``src``.

        Returns:
            tuple: ``(output, data_samples, bank)`` as :meth:`send` got
            them, on :attr:`device`.
        """
        start = time.perf_counter()
        header = torch.empty(1, dtype=torch.int64, device=self.device)
        dist.recv(header, src)
        payload = torch.empty(int(header.item()), dtype=torch.uint8,
                              device=self.device)
        dist.recv(payload, src)
        meta = torch.load(io.BytesIO(payload.cpu().numpy().tobytes()),
                          map_location=self.device, weights_only=False)
        tensors = [torch.empty(shape, dtype=dtype, device=self.device)
                   for _, shape, dtype in meta['tensors']]
        works = dist.batch_isend_irecv(
            [dist.P2POp(dist.irecv, t, src) for t in tensors])
        for work in works:
            work.wait()
        self.stats['recv_bytes'] += header.element_size() + \
            payload.numel() + sum(t.numel() * t.element_size()
                                  for t in tensors)
        self.stats['recv_wait_s'] += time.perf_counter() - start
        bank = {k: t for (k, _, _), t in zip(meta['tensors'][1:],
                                             tensors[1:])}
        return tensors[0], meta['samples'], bank
