from dataclasses import dataclass

import pytest

from mi_core import Access, ConfigError, Knowledge
from mi_core.config import build_config, check_positive


def test_access_order_and_parsing():
    assert Access.WHITE_BOX.covers(Access.LABEL_ONLY)
    assert Access.BLACK_BOX_SCORES.covers(Access.BLACK_BOX_TOPK)
    assert not Access.LABEL_ONLY.covers(Access.BLACK_BOX_SCORES)
    assert Access.parse("label_only") is Access.LABEL_ONLY
    assert Access.parse("top-k") is Access.BLACK_BOX_TOPK
    with pytest.raises(ConfigError, match=r"target\.access: unknown access 'grey-box'.*white-box"):
        Access.parse("grey-box", "target.access")


def test_knowledge_validates_budget_and_names_missing_parts():
    with pytest.raises(ConfigError, match="query_budget"):
        Knowledge(query_budget=-1)
    with pytest.raises(ConfigError, match=r"knowledge\.auxiliary: this attack needs it"):
        Knowledge().require("auxiliary")


@dataclass
class _Cfg:
    steps: int = 10
    lr: float = 0.1
    mode: str = "a"

    def __post_init__(self):
        check_positive("lr", self.lr)


def test_build_config_names_field_allowed_values_and_given():
    assert build_config(_Cfg, {"lr": 1}).lr == 1.0  # int coerced to float
    with pytest.raises(
        ConfigError, match=r"cfg\.stpes: unknown field; allowed fields: lr, mode, steps"
    ):
        build_config(_Cfg, {"stpes": 3}, where="cfg")
    with pytest.raises(ConfigError, match=r"cfg\.steps: expected int, got '3'"):
        build_config(_Cfg, {"steps": "3"}, where="cfg")
    with pytest.raises(ConfigError, match=r"cfg\.lr: must be > 0, got -1.0"):
        build_config(_Cfg, {"lr": -1}, where="cfg")
