"""Devices and precision: the one place a device setting becomes a ``torch.device``.

Every attack, prior, training defense, case and audit takes ``device`` (``"auto"`` | ``"cpu"``
| ``"cuda"`` | ``"cuda:N"``) and the latent searches and prior training take ``precision``
(``"fp32"`` | ``"bf16"`` | ``"fp16"``). :func:`get_device` resolves a setting (``"auto"``: CUDA
when present, else the CPU) and refuses an unavailable device with
:class:`~mi_core.errors.DeviceUnavailable`; :func:`check_device` and :func:`check_precision`
validate settings without torch (for config ``__post_init__``).

Seeds give the same numbers on the CPU. Random draws are made on the CPU with the run's seeded
``torch.Generator`` and then moved (:func:`randn`, :func:`rand`, :func:`randint`,
:func:`randperm`), so a CUDA run draws the very same latents, noise and batches as a CPU run;
what differs on a GPU is floating-point arithmetic (reduction order, TF32, fused kernels).
:func:`set_deterministic` asks torch for deterministic algorithms where it has them (an opt-in:
``mi run --deterministic``, ``[audit] deterministic = true``); the README states the tolerance
measured between devices.

Modules are built on the CPU (seeded CPU initialisation) and then moved (:func:`build`), so a
network gets the same initial weights on every device.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from mi_core.errors import ConfigError, DeviceUnavailable

if TYPE_CHECKING:
    import torch

DEVICE_HELP = "'auto' (CUDA when present, else the CPU), 'cpu', 'cuda' or 'cuda:N'"
PRECISIONS = ("fp32", "bf16", "fp16")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")

M = TypeVar("M")


def check_device(value: Any, field: str = "device") -> str:
    """Validate a device setting's syntax (no torch import, no availability check); returns it.

    Raises:
        ConfigError: naming ``field``, the allowed values and what was given.
    """
    if not isinstance(value, str) or not _DEVICE.match(value.strip()):
        raise ConfigError(f"{field}: unknown device {value!r}; allowed values: {DEVICE_HELP}")
    return value.strip()


def check_precision(value: Any, field: str = "precision") -> str:
    """Validate a precision setting (``fp32``, ``bf16`` or ``fp16``); returns it."""
    if value not in PRECISIONS:
        raise ConfigError(
            f"{field}: unknown precision {value!r}; allowed values: "
            f"{', '.join(map(repr, PRECISIONS))} (fp32: full precision, the default; bf16 / "
            "fp16: mixed precision through torch.autocast)"
        )
    return str(value)


def get_device(device: Any = None, field: str = "device") -> torch.device:
    """The ``torch.device`` of a setting: ``None`` / ``"auto"`` picks CUDA when present, else
    the CPU; ``"cuda"`` is the current CUDA device (with its index); a ``torch.device`` is
    checked like its name.

    Raises:
        ConfigError: the setting is not a device name.
        DeviceUnavailable: CUDA (or CUDA device N) was asked for but is not present.
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")
    name = check_device(device, field)
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"{field}: {name!r} was asked for, but torch sees no CUDA device on this machine "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); use "
            "device = 'cpu' or 'auto', or install a CUDA build of torch on a machine with a GPU"
        )
    count = torch.cuda.device_count()
    index = int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()
    if index >= count:
        raise DeviceUnavailable(
            f"{field}: {name!r} was asked for, but this machine has {count} CUDA "
            f"device{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1}); choose one of them"
        )
    return torch.device("cuda", index)


def module_device(module: Any) -> torch.device | None:
    """The device of a module's first parameter (or buffer); None when it holds neither or is
    not a module."""
    for get in ("parameters", "buffers"):
        fn = getattr(module, get, None)
        if callable(fn):
            for t in fn():
                return t.device
    return None


def attack_device(setting: Any, view: Any = None, field: str = "device") -> torch.device:
    """The device an attack works on: an explicit setting, or with ``"auto"`` the device of a
    white-box target (``view.device``), else CUDA when present, else the CPU.

    Raises:
        ConfigError: an explicit device differs from the device a white-box target lives on
            (its gradients flow through the target: move the model, or set device = 'auto').
    """
    own = getattr(view, "device", None) if view is not None else None
    if setting is None or setting == "auto":
        return own if own is not None else get_device("auto", field)
    dev = get_device(setting, field)
    if own is not None and own != dev:
        raise ConfigError(
            f"{field}: the attack asks for {str(dev)!r}, but the white-box target lives on "
            f"{str(own)!r} (its gradients flow through the target); set device = 'auto' or "
            f"{str(own)!r}, or move the model"
        )
    return dev


def to_device(obj: Any, device: Any) -> Any:
    """Tensors in ``obj`` (nested dicts, lists, tuples) moved to ``device``; other values kept."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, list | tuple):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def to_cpu(obj: Any) -> Any:
    """:func:`to_device` on the CPU (what results hold); without torch loaded nothing can be
    a tensor, and ``obj`` is returned as it is (tabular results of sklearn models)."""
    import sys

    if "torch" not in sys.modules:
        return obj
    return to_device(obj, "cpu")


def build(factory: Callable[[], M], device: Any) -> M:
    """``factory()`` (an ``nn.Module``) built on the CPU, from torch's seeded CPU generator, and
    moved to ``device``: the same initial weights on every device."""
    import torch

    with torch.device("cpu"):
        module = factory()
    return module.to(device)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------
# seeded draws: on the CPU generator, then moved (the same numbers on every device)


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):  # one tuple (a torch.Size too)
        return tuple(int(s) for s in shape[0])
    return tuple(int(s) for s in shape)


def randn(*shape: Any, generator: torch.Generator | None, device: Any) -> torch.Tensor:
    """Standard-normal draws of ``shape`` (ints or one tuple) from ``generator`` (a CPU
    generator), on ``device``."""
    import torch

    return torch.randn(_shape(shape), generator=generator, device="cpu").to(device)


def rand(*shape: Any, generator: torch.Generator | None, device: Any) -> torch.Tensor:
    """Uniform [0, 1) draws of ``shape`` from ``generator``, on ``device``."""
    import torch

    return torch.rand(_shape(shape), generator=generator, device="cpu").to(device)


def randint(
    low: int, high: int, shape: tuple[int, ...], *, generator: torch.Generator | None, device: Any
) -> torch.Tensor:
    """Integers in ``[low, high)`` of ``shape`` from ``generator``, on ``device``."""
    import torch

    return torch.randint(low, high, shape, generator=generator, device="cpu").to(device)


def randperm(n: int, *, generator: torch.Generator | None, device: Any) -> torch.Tensor:
    """A permutation of ``range(n)`` from ``generator``, on ``device``."""
    import torch

    return torch.randperm(n, generator=generator, device="cpu").to(device)


# ------------------------------------------------------------------------------------------------
# precision


def autocast(device: Any, precision: str = "fp32") -> contextlib.AbstractContextManager[Any]:
    """The forward-pass context of ``precision`` on ``device``: nothing for ``fp32``,
    ``torch.autocast`` to bfloat16 / float16 otherwise (matrix products and convolutions in
    half precision, reductions and losses in float32). Cast losses to float32 after it."""
    import torch

    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(dev.type, dtype=dtype)


def grad_scaler(device: Any, precision: str = "fp32") -> Any:
    """A ``torch.amp.GradScaler`` for training in ``fp16`` (loss scaling against gradient
    underflow); disabled (a pass-through) for ``fp32`` and ``bf16``."""
    import torch

    dev = torch.device(device) if not isinstance(device, torch.device) else device
    return torch.amp.GradScaler(dev.type, enabled=check_precision(precision) == "fp16")


# ------------------------------------------------------------------------------------------------
# determinism


def set_deterministic(enabled: bool = True) -> None:
    """Ask torch for deterministic algorithms where it has them (``warn_only``: an op without a
    deterministic implementation warns instead of failing), turn cuDNN autotuning off and TF32
    off, and set ``CUBLAS_WORKSPACE_CONFIG`` for deterministic cuBLAS (effective when set before
    CUDA starts). ``enabled=False`` restores torch's defaults. Off by default: on the CPU the
    toolbox is deterministic without it, and on a GPU it costs speed."""
    import torch

    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = not enabled and torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = not enabled


@contextlib.contextmanager
def deterministic(enabled: bool = True) -> Iterator[None]:
    """:func:`set_deterministic` for the duration of a block, restoring the previous state
    (nothing to do without torch: a tabular audit of sklearn models)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    if enabled:
        set_deterministic(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic = before[2]
        torch.backends.cudnn.benchmark = before[3]
        torch.backends.cuda.matmul.allow_tf32 = before[4]
        torch.backends.cudnn.allow_tf32 = before[5]


def where(device: Any, field: str = "device") -> str:
    """:func:`describe` of :func:`get_device` where torch is installed; without torch only the
    CPU exists: ``"auto"`` / ``"cpu"`` give ``"cpu"``, a CUDA device is refused by name."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        return describe(get_device(device, field))
    name = "auto" if device is None else check_device(device, field)
    if name not in ("auto", "cpu"):
        raise DeviceUnavailable(
            f"{field}: {name!r} was asked for, but torch is not installed here; use device = "
            "'cpu' or 'auto', or install torch with CUDA on a machine with a GPU"
        )
    return "cpu"


def describe(device: Any) -> str:
    """``cuda:0 (NVIDIA H100, 80 GiB)`` or ``cpu (16 threads)``: for records and reports."""
    import torch

    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(dev)
        return f"{dev} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if dev.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(dev)


__all__ = [
    "DEVICE_HELP",
    "PRECISIONS",
    "attack_device",
    "autocast",
    "build",
    "check_device",
    "check_precision",
    "describe",
    "deterministic",
    "get_device",
    "grad_scaler",
    "module_device",
    "rand",
    "randint",
    "randn",
    "randperm",
    "set_deterministic",
    "to_cpu",
    "to_device",
]
