import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Train on one thread: the test networks are tiny, and torch's thread pool only costs time
    (tens of times over on a machine busy with other work)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
