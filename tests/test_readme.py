"""Every Python example in the README runs exactly as written (from the project root)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
# The extras an example imports; CI installs them all.
EXTRAS = {"torch": "torch", "noisegen.lhotse": "lhotse", "noisegen.hf": "datasets", "ray": "ray",
          "webdataset": "webdataset"}


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path):
    code = BLOCKS[index]
    for name, package in EXTRAS.items():
        if re.search(rf"\b(import|from) {re.escape(name)}\b", code):
            pytest.importorskip(package)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_readme_and_the_augment_help_name_every_extension_the_scanner_reads():
    from noisegen.audio.files import AUDIO_EXTENSIONS
    from noisegen.cli.augment import DESCRIPTION

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    inputs = text[text.index("- **Inputs** are"):][:300]
    assert [e for e in AUDIO_EXTENSIONS if e not in inputs.split("`")[1].split() + inputs.split("`")[3].split()] == []
    assert [e for e in AUDIO_EXTENSIONS
            if e not in (".wave", ".oga", ".aif", ".aifc", ".snd") and e[1:] not in DESCRIPTION] == []
