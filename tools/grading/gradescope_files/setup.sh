#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (its specification:
# https://gradescope-autograders.readthedocs.io/en/latest/specs/; docs/instructors.md, "Gradescope").
# It installs the course with the versions the course tests (course/constraints.txt) into a virtual
# environment that every user may read and only root may change, with the data the exercises read,
# and closes the autograder's source (the solution notebook) to everyone but root.
#
# Settings, as environment variables (the defaults are Gradescope's; the course's tests change them
# to run this script on a stand-in tree with the environment the tests already have):
#   DLCOURSE_AUTOGRADER_ROOT  the autograder's folder                          (/autograder)
#   DLCOURSE_HOME             where the environment, the data and the cache go  (/opt/dlcourse)
#   DLCOURSE_PYTHON           the Python (3.11 or newer) to make the environment with, if there
#                             is none yet (default: the first of python3.13 ... python3 that will
#                             do; else apt installs what is missing)
#   DLCOURSE_PIP_OPTIONS      more options for pip, e.g. "--no-index --find-links /wheels"
set -euo pipefail

AUTOGRADER="${DLCOURSE_AUTOGRADER_ROOT:-/autograder}"
DLCOURSE_HOME="${DLCOURSE_HOME:-/opt/dlcourse}"
COURSE="$AUTOGRADER/source/course"
VENV="$DLCOURSE_HOME/venv"
# torch==2.13.0 from PyPI is a CUDA build of several GB; this index has the CPU build (2.13.0+cpu).
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"

apt_install() {
    echo "setup.sh: apt-get install $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# 1. The system's tools: bubblewrap (used where the container allows it), prlimit and setpriv
#    (util-linux: the kernel's limits and its own user), kill (procps).
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
{ command -v prlimit && command -v setpriv; } >/dev/null || missing+=(util-linux)
command -v kill >/dev/null || missing+=(procps)
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi

# 2. The environment's Python, when there is no environment yet: 3.11 or newer (numpy 2.4 needs
#    it) with venv and ensurepip. Ubuntu 24.04's python3 is 3.12, without ensurepip until
#    python3-venv is installed; 22.04's is 3.10, and apt has python3.11.
usable() { "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
if [[ ! -x "$VENV/bin/python" ]]; then
    PYTHON="${DLCOURSE_PYTHON:-}"
    if [[ -z "$PYTHON" ]]; then
        for candidate in python3.13 python3.12 python3.11 python3; do
            if command -v "$candidate" >/dev/null && usable "$candidate"; then
                PYTHON="$candidate"; break
            fi
        done
    fi
    if [[ -z "$PYTHON" ]]; then
        if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            apt_install python3-venv; PYTHON=python3
        else
            apt_install python3.11 python3.11-venv; PYTHON=python3.11
        fi
    fi
    usable "$PYTHON" || { echo "setup.sh: $PYTHON is older than 3.11 or has no venv;" \
        "choose Gradescope's Ubuntu 24.04 base image, or set DLCOURSE_PYTHON" >&2; exit 1; }
    mkdir -p "$DLCOURSE_HOME"
    "$PYTHON" -m venv "$VENV"
fi

# 3. The course and the grader's packages, at the versions of constraints.txt.
# shellcheck disable=SC2086  # DLCOURSE_PIP_OPTIONS is a list of options
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check ${DLCOURSE_PIP_OPTIONS:-} \
    --extra-index-url "$TORCH_CPU_INDEX" -c "$COURSE/constraints.txt" \
    "$COURSE" nbgrader nbformat nbclient jupyter_client ipykernel

# 4. The data: the course's files, and the data sets fetched (verified) into a cache, where the
#    kernels read them (they run offline, as an unprivileged user).
rm -rf "$DLCOURSE_HOME/data"
cp -r "$COURSE/data" "$DLCOURSE_HOME/data"
export DLCOURSE_DATA="$DLCOURSE_HOME/data" DLCOURSE_CACHE="$DLCOURSE_HOME/cache"
"$VENV/bin/python" -m dlcourse fetch --all
"$VENV/bin/python" -c "import matplotlib.pyplot"  # matplotlib's font cache, once (root's; each
                                                   # kernel gets a copy)

# 5. Readable by all, changeable by root only; the source (with the solution) by root only.
chmod -R u+rwX,go+rX,go-w "$DLCOURSE_HOME"
chmod 0700 "$AUTOGRADER/source"

# 6. The grader starts, finds the assignment, and says which sandbox it will use.
cd "$COURSE"
"$VENV/bin/python" -m tools.grading.gradescope check "$AUTOGRADER"
