"""The sandbox a submission's kernel runs in, and the kernelspec that starts it there.

The kernel runs in its own Linux user, mount and PID namespaces (``unshare``), with no
capabilities (``setpriv``): the folders the grader hides (solutions/, the repository's .git, the
submissions, the results) are empty tmpfs mounts, and /tmp, /var/tmp and /dev/shm are fresh and
private. Where ``unshare`` is not allowed, the kernel runs unsandboxed and the grader says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tools.notebook_meta import ROOT


def sandbox_available() -> bool:
    """True if ``unshare`` can give a kernel its own user, mount and PID namespaces here."""
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return False
    try:
        return subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child",
             "--mount-proc", "sh", "-c", "mount -t tmpfs none /mnt && setpriv --bounding-set=-all "
             "--inh-caps=-all --no-new-privs true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kernel_spec(spec_dir: Path, hide: list[Path], sandbox: bool) -> str:
    """Write a kernelspec whose kernel cannot see ``hide`` (when ``sandbox``); return its name."""
    python = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
              "--HistoryManager.hist_file=:memory:"]
    if sandbox:
        # Read the connection file first: it may live under a folder the mounts cover.
        script = 'conn=$(cat "$1") && '
        temps = [Path(t) for t in ("/tmp", "/var/tmp", "/dev/shm") if Path(t).is_dir()]
        # The course and its Python must stay visible even when they live under a temporary
        # folder (a CI checkout in /tmp): park them on a bind mount, then put them back.
        keep = sorted({p.resolve() for p in (ROOT, Path(sys.prefix), Path(sys.base_prefix))
                       if any(p.resolve().is_relative_to(t.resolve()) for t in temps)})
        keep = [k for k in keep if not any(q != k and k.is_relative_to(q) for q in keep)]
        if keep:
            script += "mount -t tmpfs -o size=4k none /mnt && "
            script += "".join(f'mkdir /mnt/keep{i} && mount --bind "{k}" /mnt/keep{i} && '
                              for i, k in enumerate(keep))
        # Fresh, private temporary folders: nothing an earlier run or another user left there.
        script += "".join(f'mount -t tmpfs -o size=256m,mode=1777 none "{t}" && ' for t in temps)
        script += "".join(f'mkdir -p "{k}" && mount --bind /mnt/keep{i} "{k}" && '
                          for i, k in enumerate(keep))
        # Hide the sources, submissions and results; those under a private temporary folder
        # (and not put back above) are gone already.
        script += "".join(f'if [ -e "{p}" ]; then mount -t tmpfs -o size=4k,mode=555 none "{p}" '
                          '|| exit 1; fi && ' for p in hide)
        script += ('d=$(mktemp -d) && printf "%s" "$conn" > "$d/kernel.json" && cd "$d" && '
                   f'exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs '
                   f'"{sys.executable}" -m ipykernel_launcher -f "$d/kernel.json" '
                   f'--HistoryManager.hist_file=:memory:')
        argv = ["setpriv", "--pdeathsig", "KILL", "unshare", "--user", "--map-root-user",
                "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                "sh", "-c", script, "sh", "{connection_file}"]
    else:
        argv = python
    name = "dlcourse-grading"
    (spec_dir / name).mkdir(parents=True, exist_ok=True)
    (spec_dir / name / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "dlcourse grading", "language": "python",
         "interrupt_mode": "signal", "env": {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
                                              "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}}))
    return name


def hidden_paths(source: Path, submissions: Path, out: Path) -> list[Path]:
    """The folders a kernel must not see: the sources, the submissions, the results and .git."""
    hide = [source.parent, submissions, out]
    if (ROOT / ".git").is_dir():
        hide.append(ROOT / ".git")
    hide = sorted({p.resolve() for p in hide})
    return [p for p in hide if not any(q != p and p.is_relative_to(q) for q in hide)]
