#!/usr/bin/env bash
# Installs what is missing (packages, the MNIST files), builds the MNIST
# example and trains the CLR case study's network with a triangular
# cyclical learning rate.
#   BUILD_DIR  build tree, relative to the repository root (default: build)
#   JOBS       parallel compile jobs (default: 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}

scripts/setup.sh
scripts/configure.sh "$build_dir" >/dev/null
cmake --build "$build_dir" -j "$jobs" --target mnist_clr

mkdir -p out
# A spinning OpenMP thread steals the core a busy machine's other work needs.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
"$build_dir/examples/mnist_clr/mnist_clr" --schedule triangular --base-lr 0.001 --max-lr 0.003 \
  --step-size 750 --epochs 10 --batch 200 --threads "$jobs" --log out/mnist_clr.csv --plot out/mnist_clr.png
echo "demo.sh: training log in $PWD/out/mnist_clr.csv, plot in $PWD/out/mnist_clr.png"
