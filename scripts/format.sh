#!/usr/bin/env bash
# Rewrites every C++ file of the repository in the style of .clang-format;
# scripts/lint.sh checks the same files and fails on any difference.
#   FILES  the files to format (default: every tracked .hpp and .cpp)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v clang-format-14 >/dev/null 2>&1; then
  echo "format.sh: clang-format-14 is missing (apt-get install clang-format-14)" >&2
  exit 1
fi
if [[ -n ${FILES:-} ]]; then
  read -r -a files <<<"$FILES"
else
  mapfile -t files < <(git ls-files '*.hpp' '*.cpp')
fi
clang-format-14 -i "${files[@]}"
