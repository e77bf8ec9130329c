"""Make PyPI's CUDA-built torchaudio/torchvision wheels importable beside a
CPU-only torch build. Idempotent; a no-op when torch itself has CUDA.

* torchaudio: its compiled extensions link libtorch_cuda, so ``import
  torchaudio`` raises OSError on a CPU-only torch. Renaming them makes
  torchaudio fall back to pure Python (compliance.kaldi, transforms and
  functional.resample, everything this project uses, keep working).
* torchvision: ``_meta_registrations.py`` registers fake kernels for
  ``torchvision::nms``/``qnms`` without checking that the ops loaded; guard
  them so ``import torchvision`` (and hence ``import timm``) works.

Usage: python -m speechbrain_ast_fix_wheels  (with the environment's python). A
top-level module, outside the package, so that it runs where ``import
speechbrain_ast`` cannot (it imports torchaudio); installed with the wheel.
"""

import importlib.util
import pathlib
import sys


def package_dir(name):
    """Return the folder of an installed package without importing it."""
    spec = importlib.util.find_spec(name)
    return pathlib.Path(spec.origin).parent if spec and spec.origin else None


def torch_has_cuda_libs():
    """True when the installed torch ships CUDA libraries."""
    folder = package_dir("torch")
    return folder is not None and any((folder / "lib").glob("libtorch_cuda*.so"))


def disable_torchaudio_extensions():
    """Rename torchaudio's CUDA-linked shared objects."""
    folder = package_dir("torchaudio")
    if folder is None:
        return "torchaudio: not installed"
    libs = sorted((folder / "lib").glob("*.so"))
    for lib in libs:
        lib.rename(lib.with_name(lib.name + ".disabled"))
    return f"torchaudio: disabled {len(libs)} CUDA-linked extension(s)"


GUARD_OLD = '@torch.library.register_fake("torchvision::{op}")'
GUARD_NEW = (
    '@(torch.library.register_fake("torchvision::{op}") '
    "if torchvision.extension._has_ops() else (lambda f: f))"
)


def guard_torchvision_fake_kernels():
    """Guard torchvision's unconditional fake-kernel registrations."""
    folder = package_dir("torchvision")
    if folder is None:
        return "torchvision: not installed"
    path = folder / "_meta_registrations.py"
    source = path.read_text()
    n_fixed = 0
    for op in ("nms", "qnms"):
        old, new = GUARD_OLD.format(op=op), GUARD_NEW.format(op=op)
        if old in source:
            source = source.replace(old, new)
            n_fixed += 1
    if n_fixed:
        path.write_text(source)
        for pyc in (folder / "__pycache__").glob("_meta_registrations*.pyc"):
            pyc.unlink()
    return f"torchvision: guarded {n_fixed} fake-kernel registration(s)"


if __name__ == "__main__":
    if torch_has_cuda_libs():
        print("torch has CUDA libraries; nothing to fix")
        sys.exit(0)
    print(disable_torchaudio_extensions())
    print(guard_torchvision_fake_kernels())
