"""Build ORTModule's ``aten_op_executor`` C++ extension (once per environment).

ORTModule refuses to start until a compiled torch C++ extension sits in
``onnxruntime/training/ortmodule/torch_cpp_extensions``. ORT's own installer
(``python -m onnxruntime.training.ortmodule.torch_cpp_extensions.install``) also builds
``torch_interop_utils``, which no longer compiles against torch >= 2.9 and aborts the whole
install, so we build only ``aten_op_executor`` (it lets ORT run ATen ops it lacks kernels
for) and copy it where ORT looks. Needs g++ and write access to site-packages.

Command line (the CI setup step)::

    python -m xporter_ort_training.extensions          # build if missing
    python -m xporter_ort_training.extensions --force  # rebuild
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from xporter.errors import PluginUnavailableError

EXTENSION = "aten_op_executor"
BUILD_COMMAND = "python -m xporter_ort_training.extensions"


def cpp_extensions_dir() -> Path:
    """ORT's torch_cpp_extensions folder, found without importing onnxruntime."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        from .runtime import missing_ort_training_error

        raise missing_ort_training_error()
    root = Path(list(spec.submodule_search_locations)[0])
    folder = root / "training" / "ortmodule" / "torch_cpp_extensions"
    if not folder.is_dir():
        from .runtime import missing_ort_training_error

        raise missing_ort_training_error(f"{root} has no training/ortmodule (regular onnxruntime installed?)")
    return folder


def installed_extension(folder: Optional[Path] = None) -> Optional[Path]:
    folder = folder or cpp_extensions_dir()
    found = sorted(glob.glob(str(folder / f"{EXTENSION}*.so")))
    return Path(found[0]) if found else None


def build(force: bool = False, quiet: bool = True) -> Path:
    """Compile ``aten_op_executor`` and install it into ORT's extension folder."""
    folder = cpp_extensions_dir()
    existing = installed_extension(folder)
    if existing is not None and not force:
        return existing
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        raise PluginUnavailableError(
            f"building ORTModule's {EXTENSION} extension needs a C++ compiler",
            "install g++ (e.g. `apt-get install g++`) and run `" + BUILD_COMMAND + "`",
        )
    if not os.access(folder, os.W_OK):
        raise PluginUnavailableError(f"cannot write ORTModule's extension into {folder}",
                                     f"run `{BUILD_COMMAND}` as the owner of that environment")
    setup_py = folder / "cpu" / EXTENSION / "setup.py"
    with tempfile.TemporaryDirectory(prefix="xporter-ort-ext-") as work:
        result = subprocess.run(
            [sys.executable, str(setup_py), "build", "--build-base", work],
            cwd=str(folder), capture_output=quiet, text=True,
        )
        built = glob.glob(os.path.join(work, "lib.*", f"{EXTENSION}*.so"))
        if result.returncode != 0 or not built:
            tail = (result.stderr or result.stdout or "")[-2000:] if quiet else ""
            raise PluginUnavailableError(f"compiling ORTModule's {EXTENSION} extension failed:\n{tail}",
                                         f"check g++ and torch headers, then rerun `{BUILD_COMMAND} --force`")
        target = folder / os.path.basename(built[0])
        shutil.copyfile(built[0], target)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=BUILD_COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if already installed")
    parser.add_argument("--verbose", action="store_true", help="show the compiler output")
    args = parser.parse_args(argv)
    path = build(force=args.force, quiet=not args.verbose)
    print(f"{EXTENSION}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
