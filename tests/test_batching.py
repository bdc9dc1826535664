"""Segments of several files through one shared network: the calls that wait together run as one pass,
give what separate calls give (to float32 rounding), and a stop reaches every caller."""

import threading

import pytest
import torch

from models.batching import BatchingNet
from models.config import SeparationConfig
from models.errors import SeparationStopped
from models.resunet import ResUNet30


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return ResUNet30(SeparationConfig(width=0.25)).eval()


def _film(net, rows, seed):
    condition = torch.randn(rows, 512, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return net.film(condition)


def _in_threads(calls):
    """Run each callable in its own thread; their results (or errors) in order."""
    results = [None] * len(calls)

    def run(i):
        try:
            results[i] = calls[i]()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_segments_that_wait_together_run_as_one_pass_and_equal_separate_calls(net):
    batching = BatchingNet(net)
    lengths = (16_000, 16_000, 16_000, 9_600)  # three of one length share a pass; the fourth runs alone
    rows = (1, 2, 3, 1)
    mixtures = [0.1 * torch.randn(r, 1, n, generator=torch.Generator().manual_seed(i)) for i, (r, n) in enumerate(zip(rows, lengths))]
    films = [_film(net, r, 10 + i) for i, r in enumerate(rows)]
    for _ in lengths:  # every worker counts before any asks
        batching.add_worker()

    def call(i):
        with torch.inference_mode():
            try:
                return batching.separate(mixtures[i], films[i])
            finally:
                batching.remove_worker()

    outputs = _in_threads([lambda i=i: call(i) for i in range(len(lengths))])
    assert batching.passes == 2
    with torch.inference_mode():
        for mixture, film, output in zip(mixtures, films, outputs):
            torch.testing.assert_close(output, net.separate(mixture, film), rtol=0, atol=1e-6)  # float32 rounding


def test_a_stop_reaches_the_callers_that_wait_and_those_that_come(net):
    batching = BatchingNet(net)
    waiting = threading.Event()

    batching.add_worker()
    batching.add_worker()  # a second worker that never asks: the call waits for it

    def call():
        waiting.set()
        return batching.separate(torch.zeros(1, 1, 4_000), _film(net, 1, 0))

    results = []
    thread = threading.Thread(target=lambda: results.append(_in_threads([call])[0]))
    thread.start()
    waiting.wait(timeout=30)
    batching.stop()
    thread.join(timeout=30)
    assert isinstance(results[0], SeparationStopped) and batching.passes == 0
    with pytest.raises(SeparationStopped):
        batching.separate(torch.zeros(1, 1, 4_000), _film(net, 1, 0))


def test_an_error_in_a_pass_reaches_every_caller_in_it(net):
    batching = BatchingNet(net)
    film = _film(net, 1, 0)
    wrong = {path: offset[:, :1] for path, offset in film.items()}  # too few channels for the network

    batching.add_worker()
    batching.add_worker()

    def call(offsets):
        with torch.inference_mode():
            try:
                return batching.separate(torch.zeros(1, 1, 4_000), offsets)
            finally:
                batching.remove_worker()

    results = _in_threads([lambda: call(film), lambda: call(wrong)])
    assert all(isinstance(result, RuntimeError) for result in results) and batching.passes == 1
