import pytest


@pytest.fixture(scope="session")
def digits_case(tmp_path_factory):
    """The built-in digits case: a softmax-regression target and a CNN evaluation model,
    trained once per test session on sklearn's digits (no download)."""
    from mi_vision.cases import DigitsSoftmaxCase

    case = DigitsSoftmaxCase()
    case.prepare(tmp_path_factory.mktemp("digits"), seed=0)
    return case
