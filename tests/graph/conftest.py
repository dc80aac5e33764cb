import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small graph ops are dominated by thread synchronisation; on a busy 2-core machine two
    threads are many times slower than one. Restored after each test."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def sbm():
    """A 400-node, 4-block stochastic block model with bag-of-words features (no download)."""
    from mi_graph.data import sbm_graph

    return sbm_graph(seed=0)


@pytest.fixture(scope="session")
def gcn(sbm):
    """A two-layer GCN trained the GraphMI way (10% labelled nodes, early stopping)."""
    from mi_graph.models import build_model
    from mi_graph.training import train_node_classifier

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model("gcn", sbm.x.shape[1], 4)
    report = train_node_classifier(model, sbm, seed=0, progress=False)
    assert report.test_accuracy > 0.8
    return model


@pytest.fixture(scope="session")
def target_nodes(sbm):
    from mi_graph.data import sample_nodes

    return sample_nodes(sbm.num_nodes, 120, seed=1)
