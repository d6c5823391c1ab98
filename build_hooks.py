"""Build step of adadyn (setup.cfg: ``cmdclass``): compile the common Numba kernels into
the wheel.

``pip install .`` builds a wheel on the machine that installs it. After the package's
files are copied into the build tree, ``adadyn warm`` runs there, so the wheel carries the
Numba caches of the run driver, the grid-sweep kernel and the regime classifier (in the
packages' ``__pycache__``, next to the sources, where Numba looks). Numba stamps a cache
with the source file's content, the CPU and its own version; when those match at run time
the first ``run`` and ``phase_diagram`` load instead of compiling, and when they do not
(another CPU, another Numba) Numba compiles as it would have anyway. The step never fails
the build: without it the kernels compile on first use. ``ADADYN_BUILD_WARM=0`` skips it;
editable installs skip it (they use the source tree).
"""
from __future__ import annotations

import os
import subprocess
import sys

from setuptools.command.build_py import build_py


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False) or os.environ.get("ADADYN_BUILD_WARM", "1") == "0":
            return
        # (pip's isolated build environment reaches its packages through PYTHONPATH: keep it)
        path = os.pathsep.join(p for p in (os.path.abspath(self.build_lib), os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONPATH=path, ADADYN_WARMUP="0")
        for k in ("NUMBA_CACHE_DIR", "ADADYN_NO_CACHE", "NUMBA_DISABLE_JIT"):
            env.pop(k, None)
        try:
            r = subprocess.run([sys.executable, "-c", "import adadyn._warm as w; w.warm(jobs=2)"], env=env,
                               cwd=os.path.abspath(self.build_lib), capture_output=True, text=True, timeout=900)
            msg = (r.stdout + r.stderr).strip().splitlines()
            print(f"adadyn: precompiling kernels: {msg[-1] if msg else r.returncode}")
            # the compile-lock files the step itself created (in the build tree's __pycache__
            # directories, which setuptools does not copy from the sources) are not part of
            # the package
            pkg = os.path.join(os.path.abspath(self.build_lib), "adadyn")
            for root, _, files in os.walk(pkg):
                if os.path.basename(root) != "__pycache__":
                    continue
                for f in files:
                    if f.endswith(".adadyn-lock") or (f.startswith("adadyn-warm-") and ".lock" in f):
                        os.remove(os.path.join(root, f))
        except Exception as exc:  # never fail the build over it
            print(f"adadyn: kernels not precompiled ({exc}); they compile on first use")
