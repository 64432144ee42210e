"""A kernel's Numba cache entry follows the helpers it inlines from other modules
(:mod:`noisegen._core.cache_stamp`)."""

import os
import shutil
import subprocess
import sys

import pytest

from noisegen._core import cache_stamp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_digest_follows_every_kernel_source_and_nothing_else(tmp_path):
    shutil.copytree(os.path.join(ROOT, "noisegen"), tmp_path / "noisegen",
                    ignore=shutil.ignore_patterns("__pycache__"))
    root = str(tmp_path / "noisegen")
    first = cache_stamp.sources_digest(root)
    assert cache_stamp.sources_digest(root) == first
    (tmp_path / "noisegen" / "_kernels" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "noisegen" / "_kernels" / "__pycache__" / "x.nbi").write_bytes(b"cache")
    (tmp_path / "noisegen" / "effects" / "mix.py").write_text("# not a kernel source\n")
    assert cache_stamp.sources_digest(root) == first  # caches and code outside the kernels' folders
    for rel in ("_kernels/snr.py", "_kernels/cpu/_simd.py", "_core/rng.py"):
        path = tmp_path / "noisegen" / rel
        text = path.read_bytes()
        path.write_bytes(text + b"\n# edited\n")
        assert cache_stamp.sources_digest(root) != first, rel
        path.write_bytes(text)
    assert cache_stamp.sources_digest(root) == first
    (tmp_path / "noisegen" / "_kernels" / "cpu" / "new.py").write_text("")
    assert cache_stamp.sources_digest(root) != first


def test_a_package_kernel_is_stamped_with_the_digest():
    import numpy as np

    from noisegen._kernels.cpu import mix

    assert cache_stamp.install()
    mix.sum_squares(np.ones((1, 4)))
    stamp = mix.sum_squares._cache._cache_file._source_stamp
    assert isinstance(stamp, tuple) and stamp[-1] == cache_stamp.sources_digest()


_CHILD = """
import numpy as np
from noisegen._kernels.cpu import mix
out = np.empty((1, 4))
print(mix.mix_at_ratio(np.ones((1, 4)), np.ones((1, 4)), 0, 1.0, out)[2])
"""


@pytest.mark.slow
def test_editing_a_helper_in_another_module_recompiles_the_kernel(tmp_path):
    """mix.mix_at_ratio inlines snr.noise_scale from another module: after an edit of the helper, a
    new process with the same cache gave the old machine code's answer (Numba stamps a cache entry
    with its own file only)."""
    shutil.copytree(os.path.join(ROOT, "noisegen"), tmp_path / "noisegen",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def scale():
        out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                             timeout=600, cwd=str(tmp_path))
        assert out.returncode == 0, out.stderr[-2000:]
        return float(out.stdout.split()[-1])

    assert scale() == 1.0
    assert scale() == 1.0  # from the cache
    helper = tmp_path / "noisegen" / "_kernels" / "snr.py"
    text = helper.read_text()
    assert "    return g\n" in text
    helper.write_text(text.replace("    return g\n", "    return 2.0 * g\n", 1))
    assert scale() == 2.0
