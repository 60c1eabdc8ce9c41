"""Re-pin the inputs: write checksums/data.sha256 (bundled data) and checksums/models.sha256
(tiny models, rebuilt from scratch). Run only when a change to them is intended; the smoke
outputs are re-pinned separately with `make smoke-checksums`."""
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repro.pins import write_pin, write_pins  # noqa: E402
from repro.registry import MODELS  # noqa: E402
from repro.tiny_models import artifacts_dir, build_tiny  # noqa: E402

# Build exactly as `python -m repro` does (one thread, deterministic kernels): the pins must
# match what the CLI builds.
import torch  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True, warn_only=True)

bundled = Path(__file__).resolve().parent.parent / "repro" / "bundled"
for d in sorted(p for p in bundled.iterdir() if p.is_dir()):
    print("data:", write_pins(d, d.name, "data.sha256"), d.name)
print("data:", write_pin(bundled / "pretrain.txt", "pretrain.txt", "data.sha256"), "pretrain.txt")
for key, spec in MODELS.items():
    if spec.tiny:
        out = artifacts_dir() / "models" / key
        if out.exists():
            shutil.rmtree(out)
        build_tiny(key, out, progress=False)
        print("model:", write_pins(out, key, "models.sha256"), key)
