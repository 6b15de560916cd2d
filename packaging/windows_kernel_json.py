"""Make packaging/wheel-data fit a Windows wheel, before `maturin build` on Windows.

On Windows, pip puts console programs in <env>\\Scripts\\ as .exe files, so kernel.json must
point there instead of bin/. Git on Windows also checks symlinks out as small text files unless
core.symlinks is on, so the logos (symlinks to kernel/*) are replaced by copies.

    python packaging/windows_kernel_json.py [--spec-dir DIR]

Run by install.ps1 and .github/workflows/wheels.yml; tests/python/test_wheel.py runs it on a copy.
"""

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "packaging/wheel-data/data/share/jupyter/kernels/alignment-lab"
WINDOWS_EXE = "{resource_dir}\\..\\..\\..\\..\\Scripts\\alignment-lab.exe"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec-dir", type=Path, default=SPEC_DIR)
    spec_dir = parser.parse_args().spec_dir
    spec_path = spec_dir / "kernel.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec["argv"][0] = WINDOWS_EXE
    spec_path.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        target = spec_dir / logo
        if target.is_symlink() or target.stat().st_size < 100:
            source = ROOT / "kernel" / logo
            target.unlink()
            shutil.copyfile(source, target)
    print(f"{spec_path}: argv[0] = {WINDOWS_EXE}")


if __name__ == "__main__":
    main()
