"""Global torch state that a command may change (intra-op threads, the default RNG) is put back when it ends.

Commands run inside long-lived processes too (the test suite, a notebook, ``accelerate launch`` workers): a thread
count or seed left behind by one command changes the floating-point results of the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any


@contextmanager
def preserved_torch_state() -> Iterator[None]:
    """Restore torch's intra-op thread count and the default generators (torch CPU, numpy's legacy global, Python's
    ``random``: what ``accelerate.utils.set_seed`` seeds) on exit, whatever happened inside."""
    import random

    import numpy as np
    import torch

    threads = torch.get_num_threads()
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def restores_torch_state(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of :func:`preserved_torch_state` for command entry points."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with preserved_torch_state():
            return command(*args, **kwargs)

    return run


def thread_invariant_group_norm(module: Any) -> int:
    """Feed every GroupNorm of ``module`` a contiguous (NCHW) tensor; returns how many it found.

    oneDNN's CPU convolutions hand on channels-last tensors, and torch's channels-last GroupNorm kernel splits its
    statistics over threads, so the same input gave other bits at another thread count or batch size (measured:
    up to 5e-6 after one GroupNorm). The contiguous kernel computes each group's statistics in one thread.
    """
    import torch

    def contiguous(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (args[0].contiguous(), *args[1:])

    norms = [m for m in module.modules() if isinstance(m, torch.nn.GroupNorm)]
    for norm in norms:
        norm.register_forward_pre_hook(contiguous)
    return len(norms)
