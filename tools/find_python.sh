#!/usr/bin/env bash
# Print the path of a Python interpreter of version $1 (e.g. 3.12): the newest
# pyenv install of that version, else a pythonX.Y on PATH that runs (pyenv's
# shims are on PATH too, but only run the globally selected version).
# Exit 1 when there is none.
set -u
version=$1
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
best=$(ls -d "$root"/versions/"$version".*/bin/python"$version" 2>/dev/null |
    grep -E "/versions/$version\.[0-9]+/" | sort -V | tail -n 1)
if [ -z "$best" ] && py=$(command -v "python$version" 2>/dev/null) &&
    "$py" -c 'import sys' 2>/dev/null; then
    best=$py
fi
[ -n "$best" ] || { echo "no Python $version found (pyenv or PATH)" >&2; exit 1; }
echo "$best"
