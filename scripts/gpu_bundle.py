"""Pack what the GPU checks need on a CUDA machine without internet into one folder: the base
model with its weights in half precision (half the size; `scripts/gpu_check.sh` restores fp32
before training), the built dataset as xz-compressed JSONL, and wheels of the Python packages
the training needs beyond PyTorch and transformers (`datasets` and its helpers).

`python scripts/gpu_bundle.py BUNDLE [--data data/processed] [--python-version 3.12]`
then copy BUNDLE and a checkout to the GPU machine and run `bash scripts/gpu_check.sh BUNDLE OUT`.
"""

from __future__ import annotations

import argparse
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

# Wheels that a CUDA image with PyTorch, transformers, accelerate and scikit-learn may lack
# (pinned as in pyproject.toml, and the versions datasets accepts for its helpers).
WHEELS = ("datasets==5.2.0", "dill==0.4.1", "multiprocess==0.70.19", "evaluate==0.4.6")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
SPLITS = ("train", "validation", "test")


def cast_float_weights(source: Path, target: Path, dtype: str) -> None:
    """A safetensors file with its floating-point tensors cast to `dtype` ("float16" to carry a
    model, "float32" to train or score it again); integer buffers are kept as they are."""
    import torch
    from safetensors.torch import load_file, save_file

    to = getattr(torch, dtype)
    weights = load_file(source)
    cast = {k: (v.to(to) if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
    save_file(cast, target, metadata={"format": "pt"})


def pack_base_model(source: Path, out: Path) -> None:
    """Every file of the base model folder, its floating-point weights cast to fp16."""
    out.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.name == "model.safetensors" or path.name.startswith("."):
            continue
        if path.is_dir():
            shutil.copytree(path, out / path.name, dirs_exist_ok=True)
        else:
            shutil.copy2(path, out / path.name)
    cast_float_weights(source / "model.safetensors", out / "model.fp16.safetensors", "float16")


def pack_dataset(data_dir: Path, out: Path) -> None:
    """The built dataset's JSONL splits, xz-compressed, and its stats.json (content hash)."""
    out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        src = data_dir / "jsonl" / f"{split}.jsonl"
        if not src.is_file():
            raise SystemExit(f"error: {src}: missing; run `make data` first")
        with src.open("rb") as f, lzma.open(out / f"{split}.jsonl.xz", "wb", preset=9) as g:
            shutil.copyfileobj(f, g)
    shutil.copy2(data_dir / "stats.json", out / "stats.json")


def download_wheels(out: Path, python_version: str) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    cmd += ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    subprocess.run([*cmd, "-d", str(out), *WHEELS], check=True)


def main(argv: list[str] | None = None) -> None:
    from train.training import resolve_model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="folder to write")
    parser.add_argument("--data", type=Path, default=Path("data/processed"), help="built dataset")
    parser.add_argument("--base-model", default="bundled:all-MiniLM-L6-v2")
    parser.add_argument("--python-version", default="3.12", help="the GPU machine's Python")
    parser.add_argument("--no-wheels", action="store_true", help="the machine has datasets")
    args = parser.parse_args(argv)
    pack_base_model(Path(resolve_model_path(args.base_model)), args.bundle / "base")
    pack_dataset(args.data, args.bundle / "data")
    if not args.no_wheels:
        download_wheels(args.bundle / "wheels", args.python_version)
    size = sum(p.stat().st_size for p in args.bundle.rglob("*") if p.is_file())
    print(f"wrote {args.bundle} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
