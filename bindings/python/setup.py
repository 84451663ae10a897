"""The build step of the ``libscim`` wheel: it builds the library with cargo and puts
``libscim.so`` inside the package, so the installed package needs nothing beside it.

Why setuptools with a cargo step rather than maturin: the Python package is ctypes over
the C ABI (no Python extension module, no PyO3), so what the wheel needs is the shared
library the C hosts use, copied next to ``_ffi.py``; a ``build_py`` step does exactly
that with setuptools as the only build dependency (plus the Rust toolchain that builds
the library anyway). The wheel is tagged ``py3-none-<platform>``: any Python 3 (ctypes
has no ABI to match), one platform, the one it was built on (``linux_x86_64``, not
``manylinux``: that tag would promise glibc compatibility nobody checked).

Knobs (environment): ``CARGO`` (the cargo to run), ``LIBSCIM_PROFILE`` (cargo profile,
default ``release``), ``LIBSCIM_STRIP=0`` (keep the debug information; by default the
copy in the wheel is stripped of it with ``strip --strip-debug`` when ``strip`` exists).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent

if sys.platform == "darwin":
    LIBRARY = "libscim.dylib"
elif sys.platform == "win32":
    LIBRARY = "scim.dll"
else:
    LIBRARY = "libscim.so"


def repository() -> Path:
    """The libscim repository this package sits in (pip builds it in place)."""
    for parent in HERE.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "include" / "scim.h").is_file():
            return parent
    raise SystemExit(
        f"libscim: no repository above {HERE}: the wheel builds the library from the "
        "libscim sources, so build it from a checkout (pip install ./bindings/python)"
    )


def build_library() -> Path:
    """``cargo build --lib`` at the repository root; the path of the shared library."""
    root = repository()
    profile = os.environ.get("LIBSCIM_PROFILE", "release")
    cargo = os.environ.get("CARGO", "cargo")
    cmd = [cargo, "build", "--lib", "--profile", profile, "--manifest-path", str(root / "Cargo.toml")]
    print("libscim: " + " ".join(cmd), flush=True)
    # From the checkout: its .cargo/config.toml (the SQLite compile flags) applies.
    subprocess.run(cmd, check=True, cwd=root)
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    built = target / ("debug" if profile == "dev" else profile) / LIBRARY
    if not built.is_file():
        raise SystemExit(f"libscim: cargo built no {built}")
    return built


class build_py_with_library(build_py):
    """The package's Python files, then the shared library beside them."""

    def run(self) -> None:
        super().run()
        built = build_library()
        dest = Path(self.build_lib) / "libscim" / LIBRARY
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, dest)
        os.chmod(dest, 0o755)
        strip = shutil.which("strip")
        if strip and os.environ.get("LIBSCIM_STRIP", "1") != "0" and sys.platform.startswith("linux"):
            # The release profile keeps line tables for backtraces (debug = 1): about
            # 90% of the file, of no use to a host.
            subprocess.run([strip, "--strip-debug", str(dest)], check=True)


class with_native_library(Distribution):
    """A distribution with a native part: the wheel's files go in platlib, at its root."""

    def has_ext_modules(self) -> bool:
        return True


class platform_wheel(bdist_wheel):
    """A platform wheel (it carries a native library) for any Python 3."""

    def get_tag(self) -> "tuple[str, str, str]":
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    distclass=with_native_library,
    cmdclass={"build_py": build_py_with_library, "bdist_wheel": platform_wheel},
)
