"""Assertions on local learning's defining property: gradient isolation."""
from typing import Dict, Optional

from man_mm.models.local_learning import local_steps


def assert_gradient_isolated(model, batch: dict,
                             shared_head: Optional[bool] = None
                             ) -> Dict[int, object]:
    """Backpropagate each local module's loss alone and check where it goes.

    Each module's loss must reach exactly its own units and aux net (every
    one of their trainable parameters gets a non-zero gradient) and nothing
    else; frozen parameters get none. The task's context modules
    (``model.task.context_modules()``, e.g. a text encoder) are reached by
    the last module's loss only.

    Args:
        model (LocalLearningModel): The model to check.
        batch (dict): A batch as the data loader gives it.
        shared_head (bool, optional): How the base model's head modules
            (``model.task.head_modules()``, e.g. a detector's neck and
            head) are checked. None: not at all. True: every module's loss
            reaches them. False: only the last module's does (every other
            module has its own copy).

    Returns:
        dict: ``id(param) -> gradient`` of every module's own units.
    """
    own_grads = {}
    head = {id(p) for h in model.task.head_modules() for p in h.parameters()}
    context_modules = getattr(model.task, 'context_modules', list)()
    context = {id(p) for m in context_modules for p in m.parameters()}
    model.train()
    data = model.data_preprocessor(batch, True)
    for step in local_steps(model, data['inputs'], data['data_samples']):
        lm = step.module
        model.zero_grad(set_to_none=True)
        model.parse_losses(step.losses)[0].backward()
        own = {id(p) for p in lm.body.parameters()} | \
            {id(p) for p in lm.aux.parameters()}
        reaches_head = shared_head or step.is_last
        for name, p in model.named_parameters():
            if not p.requires_grad:
                assert p.grad is None, f'frozen {name} got a gradient'
            elif id(p) in context:
                if step.is_last:
                    assert p.grad is not None, \
                        f'{name} got no gradient from the task loss'
                else:
                    assert p.grad is None, \
                        f'loss of module {lm.index} leaked into {name}'
            elif id(p) in head:
                if shared_head is None:
                    continue
                if reaches_head:
                    assert p.grad is not None, \
                        f'shared {name} got no gradient from module ' \
                        f'{lm.index}'
                else:
                    assert p.grad is None, \
                        f'loss of module {lm.index} leaked into {name}'
            elif id(p) in own:
                assert p.grad is not None and p.grad.abs().sum() > 0, \
                    f'{name} of module {lm.index} got no gradient'
            else:
                assert p.grad is None, \
                    f'loss of module {lm.index} leaked into {name}'
        own_grads.update({id(p): p.grad.clone()
                          for p in lm.body.parameters()
                          if p.grad is not None})  # frozen: none
    return own_grads
