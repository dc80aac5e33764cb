"""Bad input gets a clear error naming the problem (issue: unknown / constant sensitive
column, priors not summing to one, missing values)."""

import numpy as np
import pandas as pd
import pytest

from mi_core import ConfigError, Knowledge
from mi_tabular import AttributeKnowledge, Marginal, attribute_knowledge, from_frame


def test_marginal_rejects_priors_that_do_not_sum_to_one():
    with pytest.raises(ConfigError, match=r"prior sums to 0.9, not 1"):
        Marginal("smoker", (0, 1), (0.5, 0.4))
    with pytest.raises(ConfigError, match="non-negative"):
        Marginal("smoker", (0, 1), (1.5, -0.5))
    with pytest.raises(ConfigError, match="2 entries for 3 values"):
        Marginal("g", ("a", "b", "c"), (0.5, 0.5))


def test_constant_sensitive_column_is_refused():
    with pytest.raises(ConfigError, match="constant column has nothing to infer"):
        Marginal.from_data(pd.Series([1, 1, 1], name="smoker"))
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "s": [0, 0, 0], "y": [0, 1, 0]})
    with pytest.raises(ConfigError, match="'s' is constant"):
        from_frame(frame, "s", "y")


def test_unknown_sensitive_column_names_the_columns():
    frame = pd.DataFrame({"a": [1.0, 2.0], "s": [0, 1], "y": [0, 1]})
    with pytest.raises(
        ConfigError, match=r"sensitive column 'smoker' is unknown.*\['a', 's', 'y'\]"
    ):
        from_frame(frame, "smoker", "y")
    with pytest.raises(ConfigError, match="sensitive column 'smoker' is unknown"):
        AttributeKnowledge(
            known=frame[["a"]], sensitive=Marginal("smoker", (0, 1), (0.5, 0.5)), columns=("a", "s")
        )


def test_missing_values_are_named():
    known = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": ["x", "y", None]})
    with pytest.raises(ConfigError, match=r"missing values in 'a' \(1\), 'b' \(1\)"):
        AttributeKnowledge(
            known=known, sensitive=Marginal("s", (0, 1), (0.5, 0.5)), columns=("a", "b", "s")
        )
    with pytest.raises(ConfigError, match="2 missing values"):
        Marginal.from_data(pd.Series([0, 1, None, None], name="s"))


def test_knowledge_must_not_hold_the_sensitive_value_and_must_cover_the_inputs():
    s = Marginal("s", (0, 1), (0.5, 0.5))
    with pytest.raises(ConfigError, match="holds the sensitive column 's'"):
        AttributeKnowledge(
            known=pd.DataFrame({"a": [1.0], "s": [0]}), sensitive=s, columns=("a", "s")
        )
    with pytest.raises(ConfigError, match=r"lacks model input columns \['b'\].*Marginal"):
        AttributeKnowledge(known=pd.DataFrame({"a": [1.0]}), sensitive=s, columns=("a", "b", "s"))
    with pytest.raises(ConfigError, match="3 labels for 1 records"):
        AttributeKnowledge(
            known=pd.DataFrame({"a": [1.0]}), sensitive=s, columns=("a", "s"), labels=[0, 1, 1]
        )


def test_plain_knowledge_fields_are_understood():
    s = Marginal("s", (0, 1), (0.3, 0.7))
    known = pd.DataFrame({"a": [1.0, 2.0]})
    ak = attribute_knowledge(Knowledge(known_attributes=known, prior=s, target_labels=[0, 1]))
    assert ak.columns == ("a", "s") and ak.labels.tolist() == [0, 1]
    assert s.most_likely == 1 and s.codes([1, 0, 1]).tolist() == [1, 0, 1]
    with pytest.raises(ConfigError, match="not among the candidate values"):
        s.codes([2])
    with pytest.raises(ConfigError, match=r"knowledge.prior"):
        attribute_knowledge(Knowledge(known_attributes=known))
