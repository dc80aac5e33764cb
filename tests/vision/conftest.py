import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small networks run faster on one thread, and much faster on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def digits_case(tmp_path_factory):
    """The built-in digits case: a softmax-regression target and a CNN evaluation model,
    trained once per test session on sklearn's digits (no download)."""
    from mi_vision.cases import DigitsSoftmaxCase

    torch.set_num_threads(1)
    case = DigitsSoftmaxCase()
    case.prepare(tmp_path_factory.mktemp("digits"), seed=0)
    return case


@pytest.fixture(scope="session")
def gan_case(tmp_path_factory):
    """The GMI protocol at digit scale: digits 0-4 are private (a small CNN target and a ResNet
    evaluation model), digits 5-9 public (three tiny GAN priors trained on them). Built by the
    `digits-gan` audit case, trained once per session (about a minute on one core)."""
    from mi_vision.cases import DigitsGANCase

    torch.set_num_threads(1)
    case = DigitsGANCase()
    case.prepare(tmp_path_factory.mktemp("digits-gan"), seed=0)
    return case
