#!/usr/bin/env bash
# Builds the grading image (Gradescope runs this once per upload of the zip, with network).
# Python goes to /opt, where the unprivileged student user can run it (root's home is mode 0700).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
# bubblewrap: each student phase runs in its own namespaces (the route falls back to the container's own
# isolation where the platform allows none; its log says which). setpriv is util-linux's, always there.
apt-get install -y --no-install-recommends wget ca-certificates bzip2 bubblewrap util-linux

PREFIX=/opt/hw1-python
wget -nv https://github.com/conda-forge/miniforge/releases/download/24.11.3-2/Miniforge3-Linux-x86_64.sh -O /tmp/miniforge.sh
bash /tmp/miniforge.sh -b -p "$PREFIX"
"$PREFIX/bin/mamba" env create -f /autograder/source/environment.yml
PY="$PREFIX/envs/otter-env/bin/python"
# The image must hold the CPU builds of the tested versions: pip falls back to PyPI's CUDA build
# silently when the CPU index lacks a version, and that build needs ~6 GB and ~300 MB more memory.
"$PY" - <<'PYTHON'
# BEGIN TORCH CHECK
import sys
import torch, torchvision
expected = {"torch": "@TORCH@+cpu", "torchvision": "@TORCHVISION@+cpu"}
found = {"torch": torch.__version__, "torchvision": torchvision.__version__}
if found != expected:
    sys.exit(f"setup.sh: the image has {found}, not the CPU builds {expected}; the grading image is not the tested one")
print("torch check passed:", found)
# END TORCH CHECK
PYTHON

# matplotlib's font list, once: the route copies it into each sandbox's home (else every grading builds it, ~1 s)
mkdir -p /var/cache/hw1-matplotlib
MPLCONFIGDIR=/var/cache/hw1-matplotlib MPLBACKEND=Agg "$PY" -c "import matplotlib.font_manager"
chmod -R a+rX,go-w /var/cache/hw1-matplotlib

# The datasets, once, into a folder the student can read but not write; grading never downloads.
DATA=/opt/hw1-data
"$PY" - <<'PYTHON'
import torchvision
for name in ("FashionMNIST", "MNIST"):
    for train in (True, False):
        getattr(torchvision.datasets, name)("/opt/hw1-data", train=train, download=True)
PYTHON
cd "$DATA"
md5sum -c <<'MD5'
@MD5SUMS@
MD5
chmod -R a+rX,go-w "$DATA"

# BEGIN OPTIONAL: only where the trusted files are already there
# The probes' inputs of this zip, drawn once from its secret seed into root's own cache (/var/cache/hw1-inputs,
# mode 0700), with the verdict's references computed from them: each grading copies them, verified by SHA-256,
# instead of drawing them, and its verdict reads the references instead of importing torch to compute them. Gradescope unzips the whole
# zip before setup.sh; otter grade's image copies the trusted files after it: there each grading draws its own.
ENTRY=/autograder/source/files/hw1_trusted/__main__.py
if [ -f "$ENTRY" ]; then
  # a speed-up only: if it fails, the image still builds and each grading draws its own inputs, as before
  "$PY" -I "$ENTRY" cache-inputs /autograder || echo "setup.sh: the inputs cache was not filled; each grading draws its inputs" >&2
fi
# END OPTIONAL
