"""Poisoning-based inversion of an online linear regression (Hidano et al. 2018)."""

import numpy as np
import pytest

from mi_core import ConfigError, Knowledge
from mi_core.registry import get_attack
from mi_tabular.attacks.poisoning_inversion import PoisoningInversion
from mi_tabular.targets import OnlineRegressionService


def test_registered():
    assert get_attack("poisoning-inversion") is PoisoningInversion


def test_poisoning_makes_the_outputs_reveal_the_genotype(dosing):
    ds, sp, _, make_model = dosing
    users = sp.attacked[ds.features]
    service = OnlineRegressionService(make_model, sp.train[ds.features], sp.train[ds.label], users)
    rmse_before = service.rmse(sp.holdout[ds.features], sp.holdout[ds.label])
    knowledge = Knowledge(
        auxiliary=sp.auxiliary,
        prior=ds.marginal(sp.auxiliary),
        extra={
            "columns": ds.features,
            "contribute": service.contribute,
            "observe": service.observe,
        },
    )
    result = PoisoningInversion().run(service.view(), knowledge, seed=0)
    truth = ds.marginal().codes(sp.attacked[ds.sensitive].to_numpy())
    acc_after = np.mean(result.arrays["codes"] == truth)
    acc_before = np.mean(result.arrays["codes_before"] == truth)  # same inversion, no poison
    prior_acc = np.mean(truth == np.argmax(ds.marginal(sp.auxiliary).prior))
    assert acc_before >= prior_acc + 0.1
    assert acc_after >= acc_before + 0.2 and acc_after > 0.95
    info = result.info
    assert info["extraction_rmse"] < 1e-6  # the setup stage recovers the linear model
    assert 0.5 * 2000 < info["estimated_train_size"] < 2 * 2000
    assert info["nonsensitive_spread"][-1] <= 0.05
    assert service.contributed == info["poison_records"] < 0.3 * 2000
    assert service.rmse(sp.holdout[ds.features], sp.holdout[ds.label]) > rmse_before


def test_missing_channels_are_named(dosing):
    ds, sp, _, make_model = dosing
    service = OnlineRegressionService(
        make_model, sp.train[ds.features], sp.train[ds.label], sp.attacked[ds.features]
    )
    k = Knowledge(auxiliary=sp.auxiliary, prior=ds.marginal(), extra={"columns": ds.features})
    with pytest.raises(ConfigError, match=r"knowledge.contribute"):
        PoisoningInversion().run(service.view(), k)
    with pytest.raises(ConfigError, match=r"poisoning-inversion.config.max_rounds: must be > 0"):
        PoisoningInversion(max_rounds=0)
