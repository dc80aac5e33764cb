"""Devices: the one resolver, named errors for devices a machine lacks, views that own their
target's device, results on the CPU, the audit file's and the command line's device settings."""

import pytest
import torch
from torch import nn

from mi_core import ConfigError, DeviceUnavailable, Knowledge, make_view
from mi_core.device import (
    autocast,
    build,
    check_device,
    check_precision,
    get_device,
    randn,
    set_deterministic,
)

CUDA = torch.cuda.is_available()


@pytest.mark.parametrize("value", ["auto", "cpu", "cuda", "cuda:0", "cuda:3"])
def test_device_settings_are_checked_without_a_gpu(value):
    assert check_device(value) == value


@pytest.mark.parametrize("value", ["gpu", "CUDA", "cuda:x", "mps", "", 0, None])
def test_a_bad_device_setting_names_the_field_and_the_allowed_values(value):
    with pytest.raises(ConfigError, match=r"prior\.device: unknown device .*'auto'.*'cuda:N'"):
        check_device(value, "prior.device")


def test_precision_settings():
    assert [check_precision(p) for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    with pytest.raises(ConfigError, match=r"precision: unknown precision 'half'.*'bf16'"):
        check_precision("half")


def test_auto_and_cpu_resolve_here():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("auto").type == ("cuda" if CUDA else "cpu")
    assert get_device(None) == get_device("auto")
    assert get_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("value", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_a_named_error_with_the_fix(value):
    with pytest.raises(
        DeviceUnavailable, match=rf"gmi.config.device: '{value}' .* no CUDA .*'cpu'"
    ):
        get_device(value, "gmi.config.device")
    assert issubclass(DeviceUnavailable, ConfigError)


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_a_cuda_index_past_the_cards_is_a_named_error():
    n = torch.cuda.device_count()
    with pytest.raises(DeviceUnavailable, match=f"cuda:{n}.* {n} CUDA device"):
        get_device(f"cuda:{n}")


def test_seeded_draws_are_made_on_the_cpu_generator():
    """The same draws as torch.randn on the CPU (so CPU numbers are unchanged), whatever the
    device they are moved to."""
    a = randn(3, 4, generator=torch.Generator().manual_seed(5), device="cpu")
    b = torch.randn(3, 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert torch.equal(randn((3, 4), generator=torch.Generator().manual_seed(5), device="cpu"), b)


def test_modules_are_built_on_the_cpu_and_moved():
    torch.manual_seed(0)
    a = build(lambda: nn.Linear(3, 2), "cpu")
    torch.manual_seed(0)
    b = nn.Linear(3, 2)
    assert torch.equal(a.weight, b.weight)


def test_autocast_is_a_no_op_in_fp32_and_lowers_matmuls_in_bf16():
    x = torch.randn(4, 4)
    with autocast("cpu", "fp32"):
        assert (x @ x).dtype == torch.float32
    with autocast("cpu", "bf16"):
        assert (x @ x).dtype == torch.bfloat16


def test_deterministic_is_an_option_that_can_be_undone():
    set_deterministic(True)
    try:
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        set_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled()


def _info():
    from mi_core import TargetInfo

    return TargetInfo(num_classes=3)


def test_white_box_views_expose_their_module_device_and_black_box_views_do_not():
    net = nn.Linear(4, 3)
    white = make_view(net, "white-box", info=_info())
    assert white.device == torch.device("cpu")
    black = make_view(net, "black-box-scores", info=_info())
    assert black.device is None
    assert make_view(lambda x: x, "black-box-scores").device is None


def test_black_box_outputs_come_back_detached_on_the_cpu():
    net = nn.Linear(4, 3)
    out = make_view(net, "black-box-scores", info=_info())(torch.randn(2, 4))
    assert out.device.type == "cpu" and not out.requires_grad


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_a_cuda_target_takes_cpu_inputs_and_answers_on_the_cpu():
    net = nn.Linear(4, 3).cuda()
    black = make_view(net, "black-box-scores", info=_info())
    assert black(torch.randn(2, 4)).device.type == "cpu"
    white = make_view(net, "white-box", info=_info())
    assert white.device.type == "cuda"
    assert white(torch.randn(2, 4)).device.type == "cuda"  # gradients flow on the target's card


def test_an_attack_result_comes_back_on_the_cpu():
    from mi_core.device import attack_device
    from mi_core.result import AttackResult

    r = AttackResult("a", "image", "white-box", torch.zeros(2), arrays={"x": torch.ones(1)})
    assert r.to_cpu().reconstructions.device.type == "cpu"
    assert attack_device("auto", make_view(nn.Linear(2, 2), "white-box")) == torch.device("cpu")


def test_an_explicit_attack_device_must_match_a_white_box_target():
    from mi_core.device import attack_device

    class OnMeta(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(2, device="meta"))

    with pytest.raises(ConfigError, match="device: the attack asks for 'cpu', but the white-box"):
        attack_device("cpu", make_view(OnMeta(), "white-box"))


# ------------------------------------------------------------------------------------------------
# the audit file and the command line


def _audit(extra_audit="", extra_target=""):
    return f"""
[audit]
out = "out"
{extra_audit}

[[targets]]
case = "digits-softmax"
access = ["white-box"]
{extra_target}

[attacks]
names = ["mi-face"]
"""


def test_the_audit_file_takes_a_device_and_precision_overridable_per_target():
    from mi_core.audit.config import parse_audit_config
    from mi_core.audit.plan import plan_audit

    cfg = parse_audit_config(_audit('device = "cpu"\nprecision = "bf16"'), "a.toml")
    assert (cfg.device, cfg.precision, cfg.deterministic) == ("cpu", "bf16", False)
    cells = plan_audit(cfg).cells
    assert {(c.device, c.precision) for c in cells} == {("cpu", "bf16")}
    cfg = parse_audit_config(_audit('device = "cpu"', 'device = "cuda:1"'), "a.toml")
    assert {c.device for c in plan_audit(cfg).cells} == {"cuda:1"}  # checked where it runs


@pytest.mark.parametrize(
    ("audit", "target", "match"),
    [
        ('device = "gpu"', "", r"a.toml:4: audit.device: unknown device 'gpu'"),
        ('precision = "fp8"', "", r"a.toml:4: audit.precision: unknown precision 'fp8'"),
        ("deterministic = 1", "", r"a.toml:4: audit.deterministic: must be true or false"),
        ("", 'device = "tpu"', r"a.toml:9: targets\[0\].device: unknown device 'tpu'"),
    ],
)
def test_bad_device_settings_in_the_audit_file_name_the_line(audit, target, match):
    from mi_core.audit.config import parse_audit_config

    with pytest.raises(ConfigError, match=match):
        parse_audit_config(_audit(audit, target), "a.toml")


def test_mixed_precision_is_another_cell_the_device_is_not():
    from mi_core.audit.runner import CellSpec

    base = CellSpec("digits-softmax", "mi-face", "white-box")
    assert CellSpec("digits-softmax", "mi-face", "white-box", device="cuda").id == base.id
    assert CellSpec("digits-softmax", "mi-face", "white-box", precision="bf16").id != base.id


def test_the_cell_device_reaches_attacks_and_defenses_unless_they_set_their_own():
    from mi_core.audit.runner import with_device
    from mi_core.registry import get_attack, get_defense

    gmi = get_attack("gmi")
    assert with_device(gmi, {}, "cpu", "bf16") == {"device": "cpu", "precision": "bf16"}
    assert with_device(gmi, {"device": "cuda"}, "cpu")["device"] == "cuda"
    assert with_device(get_defense("mid"), {"beta": 0.1}, "cpu", "bf16") == {
        "beta": 0.1,
        "device": "cpu",
    }
    assert with_device(get_defense("top-k"), {"k": 1}, "cpu") == {"k": 1}  # no device field


def test_ray_tasks_request_gpus_for_cuda_cells_only():
    from mi_core.audit.executors import _on_task_gpu, gpus_for

    cuda, auto, cpu = ({"case": "c", "attack": "a", "access": "white-box", "device": d}
                       for d in ("cuda:1", "auto", "cpu"))  # fmt: skip
    assert gpus_for(cuda, cluster_gpus=4) == 1.0
    assert gpus_for(cuda, cluster_gpus=4, gpus_per_task=0.5) == 0.5
    assert gpus_for(auto, cluster_gpus=4) == 1.0
    assert gpus_for(auto, cluster_gpus=0) == 0.0
    assert gpus_for(cpu, cluster_gpus=4) == 0.0
    with pytest.raises(ConfigError, match="asks for 'cuda:1', but the Ray cluster has no GPU"):
        gpus_for(cuda, cluster_gpus=0)
    assert _on_task_gpu(cuda, 1.0)["device"] == "cuda"  # the card Ray assigned
    assert _on_task_gpu(auto, 0.0)["device"] == "cpu"


@pytest.mark.skipif(CUDA, reason="this machine has CUDA")
def test_mi_run_refuses_a_device_the_machine_lacks_before_running(tmp_path, capsys):
    from mi_core.cli import main

    run = tmp_path / "run.toml"
    run.write_text('[target]\ncase = "digits-softmax"\naccess = "white-box"\n')
    assert main(["run", "mi-face", "--config", str(run), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "--device: 'cuda' was asked for, but torch sees no CUDA device" in err
    assert not (tmp_path / "mi-run").exists()
    assert main(["run", "mi-face", "--config", str(run), "--device", "gpu:0"]) == 2
    assert "--device: unknown device 'gpu:0'" in capsys.readouterr().err
    assert main(["run", "mi-face", "--config", str(run), "--precision", "int8"]) == 2
    assert "--precision: unknown precision 'int8'" in capsys.readouterr().err


def test_mi_run_passes_device_and_precision_on(tmp_path, monkeypatch):
    import mi_core.audit.runner as runner
    from mi_core.cli import main

    seen = {}

    def fake(spec, workdir):
        seen.update(spec)
        return {"id": "x", "status": "not-applicable", "message": "stub"}

    monkeypatch.setattr(runner, "run_cell", fake)
    run = tmp_path / "run.toml"
    run.write_text('[target]\ncase = "cohort-tree"\naccess = "label-only"\nprecision = "bf16"\n')
    main(["run", "lomia", "--config", str(run), "--out", str(tmp_path), "--device", "cpu"])
    assert (seen["device"], seen["precision"], seen["deterministic"]) == ("cpu", "bf16", False)


def test_a_cell_records_the_device_it_ran_on(tmp_path):
    from dataclasses import asdict

    from mi_core.audit.runner import CellSpec, run_cell

    spec = CellSpec("cohort-tree", "csmia", "black-box-scores", {"progress": False}, device="cpu")
    rec = run_cell(asdict(spec), str(tmp_path))
    assert rec["status"] == "ok" and rec["device"].startswith("cpu")


def test_attack_configs_refuse_a_bad_device(tmp_path):
    from mi_core.registry import get_attack

    with pytest.raises(ConfigError, match=r"mi-face.config.device: unknown device 'gpu'"):
        get_attack("mi-face")({"device": "gpu"})
    with pytest.raises(ConfigError, match=r"gmi.config.precision: unknown precision"):
        get_attack("gmi")({"precision": "half"})
    assert Knowledge() is not None
