"""PyTorch stays optional: only optcore.torch imports it, and the study's registration works without it."""

import subprocess
import sys

# run in a fresh interpreter where `import torch` raises ImportError, as on a machine without PyTorch
WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None
import importlib, pkgutil
import optcore
skipped = []
for info in pkgutil.walk_packages(optcore.__path__, "optcore."):
    if info.name == "optcore.torch" or info.name.startswith("optcore.torch."):
        skipped.append(info.name)
        continue
    importlib.import_module(info.name)
assert "optcore.torch" in skipped
try:
    import optcore.torch
except ImportError as exc:
    assert "pip install optcore[torch]" in str(exc), exc
else:
    raise AssertionError("optcore.torch imported without torch")
from optcore.cli import main
raise SystemExit(main(["list"]))
"""


def test_only_optcore_torch_needs_torch_and_optcore_list_works_without_it():
    out = subprocess.run([sys.executable, "-c", WITHOUT_TORCH], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "torch-digits-orders" in out.stdout
