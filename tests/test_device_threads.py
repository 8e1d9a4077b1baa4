"""Small CPU problems sample on one thread (restored afterwards); large ones and CUDA keep theirs."""

from __future__ import annotations

import torch

from rlct.numeric.device import SINGLE_THREAD_MAX_ELEMENTS, cpu_threads_for


def test_small_cpu_problem_runs_on_one_thread_and_restores_the_count():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with cpu_threads_for(torch.device("cpu"), 8 * 200) as threads:
            assert threads == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with cpu_threads_for(torch.device("cpu"), SINGLE_THREAD_MAX_ELEMENTS + 1) as threads:
            assert threads == 2 and torch.get_num_threads() == 2
        with cpu_threads_for(torch.device("cuda"), 10) as threads:
            assert threads == 2 and torch.get_num_threads() == 2
        try:
            with cpu_threads_for(torch.device("cpu"), 10):
                raise KeyError("inside")
        except KeyError:
            pass
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
