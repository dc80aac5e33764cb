"""Plugin API versions: mi-core offers one, each plugin package declares the range it supports,
and the registry refuses an incompatible (or undeclared) plugin with a named error."""

import sys

import pytest

from mi_core import PLUGIN_API, PluginAPIError, registry
from mi_core.registry import Entry, api_supported, check_plugin_api, parse_api_range


@pytest.fixture(autouse=True)
def fresh_checks(monkeypatch):
    monkeypatch.setattr(registry, "_CHECKED", {})


def test_ranges_are_read_and_compared():
    assert parse_api_range(">=1.0,<2") == [(">=", (1, 0)), ("<", (2, 0))]
    assert api_supported(">=1.0,<2", (1, 0))
    assert api_supported(">=1.0,<2", (1, 7))
    assert not api_supported(">=1.0,<2", (2, 0))
    assert not api_supported(">=1.2,<2", (1, 1))  # needs what minor 2 added
    assert api_supported("==1.3", (1, 3))
    with pytest.raises(PluginAPIError, match=r"cannot read '~=1.0'"):
        parse_api_range("~=1.0")
    with pytest.raises(PluginAPIError, match="expected a version range"):
        parse_api_range("")


def write_plugin(root, package, declaration):
    pkg = root / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text(declaration)
    (pkg / "attacks.py").write_text("class Attack:\n    name = 'fake'\n")


def entry(package):
    def load():
        module = __import__(f"{package}.attacks", fromlist=["Attack"])
        return module.Attack

    return Entry("fake", f"{package}.attacks:Attack", f"{package.replace('_', '-')}", load)


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    write_plugin(tmp_path, "plug_ok", 'MI_CORE_PLUGIN_API = ">=1.0,<2"\n')
    write_plugin(tmp_path, "plug_new", 'MI_CORE_PLUGIN_API = ">=2.0,<3"\n')
    write_plugin(tmp_path, "plug_none", "")
    yield
    for name in list(sys.modules):
        if name.startswith(("plug_ok", "plug_new", "plug_none")):
            del sys.modules[name]


def test_a_compatible_plugin_loads(plugins):
    assert entry("plug_ok").load().name == "fake"


def test_an_incompatible_plugin_is_refused_by_name(plugins):
    offered = ".".join(map(str, PLUGIN_API))
    with pytest.raises(PluginAPIError) as err:
        entry("plug_new").load()
    msg = str(err.value)
    assert "plug-new supports mi-core plugin API >=2.0,<3" in msg
    assert f"offers plugin API {offered}" in msg
    assert "plug_new.attacks" not in sys.modules  # refused before the plugin's module ran


def test_an_undeclared_plugin_is_refused(plugins):
    with pytest.raises(PluginAPIError, match=r"plug-none: declares no MI_CORE_PLUGIN_API"):
        entry("plug_none").load()


def test_local_registrations_need_no_declaration():
    assert Entry("mine", "<local>", None, lambda: int).load() is int


def test_every_installed_plugin_supports_this_core():
    packages = {
        e.package
        for entries in (
            registry.attack_entries(),
            registry.defense_entries(),
            registry.case_entries(),
        )
        for e in entries.values()
    }
    assert {"mi_vision", "mi_text", "mi_graph", "mi_tabular", "mi_defense"} <= packages
    for package in packages:
        check_plugin_api(package)


def test_registry_refuses_installed_plugins_under_a_new_major(monkeypatch):
    monkeypatch.setattr(registry, "PLUGIN_API", (2, 0))
    with pytest.raises(PluginAPIError, match=r"mi-tabular supports mi-core plugin API >=1.0,<2"):
        registry.get_attack("fredrikson-map")
