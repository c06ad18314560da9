"""Global torch state around commands, and GroupNorm results that do not depend on the thread count."""

from __future__ import annotations

import random

import numpy as np
import torch

from mapsynth_backend.runtime.torch_state import preserved_torch_state, thread_invariant_group_norm


def test_preserved_torch_state_puts_threads_and_generators_back_even_after_an_error():
    threads = torch.get_num_threads()
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    expected = torch.rand(3), np.random.rand(3), random.random()
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    try:
        with preserved_torch_state():
            torch.set_num_threads(threads + 1)
            torch.manual_seed(123)
            np.random.seed(123)
            random.seed(123)
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert torch.get_num_threads() == threads
    got = torch.rand(3), np.random.rand(3), random.random()
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]


def test_group_norm_on_channels_last_input_gives_the_same_bits_at_every_thread_count():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(4, 32, 3, padding=1), torch.nn.GroupNorm(32, 32))
    assert thread_invariant_group_norm(model) == 1
    x = torch.randn(2, 4, 64, 64).contiguous(memory_format=torch.channels_last)
    threads = torch.get_num_threads()
    outputs = []
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            with torch.no_grad():
                outputs.append(model(x))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(outputs[0], other) for other in outputs[1:])
