"""The sandbox a submission's kernel runs in (bubblewrap), and the kernelspec that starts it there.

Each kernel runs under ``bwrap`` (the Debian package ``bubblewrap``), with:

- **its own namespaces**: user, mount, PID, IPC, UTS, cgroup and network (``--unshare-all``): an
  empty network namespace (loopback only, nothing listening), no view of the grader's or anyone
  else's processes; ``--die-with-parent``: the sandbox dies with the grader's worker, and every
  process in it dies with its PID namespace when the kernel ends; no capabilities
  (``--cap-drop ALL``), no further user namespaces (``--disable-userns``);
- **a read-only view** of the system (``/usr``, ``/etc`` without its secrets, and the like), the
  Python it runs, the course (without ``solutions/`` and ``.git``) and the data cache; nothing
  else of the machine: no home folder (the course and Python are put back where they live), no
  submissions, no results, no other copy of the solutions outside the course's folder; when the
  grader runs as root, the kernel runs as an unprivileged user of its own (:data:`KERNEL_UID` plus
  the worker's slot, no capabilities), since the process limit does not apply to root and counts
  per user;
- **one writable place**, the kernel's private scratch folder (created by the grader, removed
  after the run): ``$HOME``, ``$TMPDIR``, ``/tmp``, ``/var/tmp``, ``/dev/shm`` and the working
  folder are folders of it. The kernel's sockets live there too (ZeroMQ over Unix sockets,
  since the kernel has no network). The grader watches its size (tools/grading/execution.py);
- **resource limits** set by ``prlimit`` (util-linux) on the kernel, inherited by all it starts:
  address space (``--as``, default 4 GiB), processes and threads (``--nproc``: counted in the
  sandbox's own user namespace), CPU seconds (``--cpu``), file size (``--fsize``), no core files.

Without ``bwrap`` (or where the system forbids user namespaces) the grader refuses to run unless
the instructor passes ``--no-sandbox``; see docs/instructors.md. The Gradescope autograder
(tools/grading/gradescope.py) runs as root in a container that may forbid namespaces: there a
``Sandbox(bwrap=False)`` runs the kernel without bubblewrap, as an unprivileged user of its own
with the same limits and an empty environment, and file permissions keep it away from the
sources; whatever it leaves running is killed with that user's processes
(:func:`end_kernel_processes`).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.notebook_meta import ROOT

#: The kernelspec's command: builds bwrap's command line and replaces itself with it.
LAUNCHER = Path(__file__).resolve().parent / "launch.py"

GIB = 1024 ** 3
MIB = 1024 ** 2
#: System folders the kernel sees read-only (where they exist; symlinks are kept as symlinks).
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
#: Files in /etc a kernel never needs: masked with an empty file.
SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers",
           "/etc/ssh", "/etc/ssl/private", "/etc/sudoers.d")


@dataclass
class Limits:
    """What a kernel may use; the defaults are the command line's."""

    memory: int = 4 * GIB          # address space, bytes (RLIMIT_AS)
    processes: int = 256           # processes and threads (RLIMIT_NPROC, in the sandbox's userns)
    cpu_seconds: int = 900         # CPU time of each process (RLIMIT_CPU)
    file_size: int = GIB           # largest file it may write (RLIMIT_FSIZE)
    scratch: int = 2 * GIB         # size of the scratch folder, enforced by the grader's watchdog


#: When the grader runs as root, kernel number ``n`` running at once runs as user
#: ``uid_base + n``, from KERNEL_UID up (each grading run takes a base of its own: tools/grading/
#: cli.py): users of their own (no entry in /etc/passwd), so that one kernel's processes never
#: count against another's process limit.
KERNEL_UID = 100_000


@dataclass
class Sandbox:
    """The sandbox settings of a grading run (``enabled`` False: ``--no-sandbox``).

    ``slot`` tells kernels running at the same time apart (their user, when grading as root).
    ``bwrap`` False (the Gradescope autograder where bubblewrap cannot run; root only): no
    namespaces, the kernel runs as its own unprivileged user with the limits, and only file
    permissions hide what it must not read (``hide`` plays no part). ``uid_base``: the first
    kernel user's id; graders that may run side by side on one machine take different ones.
    """

    enabled: bool = True
    hide: list[Path] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    slot: int = 0
    bwrap: bool = True
    uid_base: int = KERNEL_UID

    def uid(self) -> int | None:
        """The kernel's user when the grader is root, else None (the grader's user)."""
        return self.uid_base + self.slot if os.geteuid() == 0 else None


def bwrap_problem() -> str | None:
    """Return why bubblewrap cannot sandbox a kernel here, or None when it can.

    The probe starts ``true`` the way a kernel is started (tools/grading/launch.py, the limits).
    """
    if shutil.which("bwrap") is None:
        return "`bwrap` is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if shutil.which("prlimit") is None:
        return "`prlimit` (util-linux) is not installed"
    folder = Path(tempfile.mkdtemp(prefix="dlcourse-probe-"))
    try:
        prepare_scratch(folder, Sandbox())
        config = sandbox_config(Sandbox(), folder, {}, ["true"])
        (folder / "probe.json").write_text(json.dumps(config))
        run = subprocess.run([sys.executable, str(LAUNCHER), str(folder / "probe.json")],
                             capture_output=True, text=True, timeout=30, cwd=folder)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start: {error}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if run.returncode != 0:
        return ("bwrap cannot create namespaces here (" + (run.stderr.strip() or
                f"exit code {run.returncode}") + "); user namespaces may be disabled "
                "(sysctl kernel.unprivileged_userns_clone, or an AppArmor or container policy)")
    return None


def _system_binds() -> list[str]:
    args: list[str] = []
    for folder in SYSTEM:
        path = Path(folder)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), folder]
        elif path.is_dir():
            args += ["--ro-bind", folder, folder]
    return args


def _outermost(paths: list[Path]) -> list[Path]:
    paths = sorted({p.resolve() for p in paths if p.exists()})
    return [p for p in paths if not any(q != p and p.is_relative_to(q) for q in paths)]


def readable_paths() -> list[Path]:
    """The folders outside the system that a kernel reads: the course, its Python, the data."""
    from dlcourse.data.paths import cache_dir, data_dir

    return _outermost([ROOT, Path(sys.prefix), Path(sys.base_prefix),
                       Path(sys.executable).resolve().parent.parent, data_dir(), cache_dir()])


def sandbox_config(sandbox: Sandbox, scratch: Path, env: dict[str, str], command: list[str]
                   ) -> dict:
    """The command that runs ``command`` in the sandbox, for tools/grading/launch.py.

    bwrap mounts in the order of its arguments. ``env`` is the kernel's environment besides the
    sandbox's own variables (bwrap starts from an empty one: nothing of the grader's environment
    reaches the kernel). As root, bwrap runs in its privileged mode (no user namespace) and the
    command runs as the kernel's own user with no capabilities (setpriv); otherwise in a user
    namespace.
    """
    if not sandbox.bwrap:
        return _unprivileged_config(sandbox, scratch, env, command)
    limits = sandbox.limits
    as_root = os.geteuid() == 0
    if as_root:  # bwrap's privileged mode: it can bind folders only root may read (/root/...)
        args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent"]
    else:
        args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--cap-drop", "ALL"]
    args += ["--clearenv", *_system_binds()]
    for secret in SECRETS:
        if Path(secret).is_dir():
            args += ["--tmpfs", secret]
        elif Path(secret).exists():
            args += ["--ro-bind", "/dev/null", secret]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # The usual writable folders are folders of the scratch folder (before the course and Python
    # are bound: they may live under /tmp, as in a CI checkout).
    args += ["--bind", str(scratch / "tmp"), "/tmp", "--perms", "0755", "--dir", "/var",
             "--bind", str(scratch / "tmp"), "/var/tmp", "--bind", str(scratch / "shm"), "/dev/shm"]
    readable = readable_paths()
    made = {"/tmp", "/var", "/var/tmp", "/dev", "/dev/shm", "/proc", *SYSTEM}

    def parents(path: Path) -> list[str]:
        """bwrap would create the folders above a bind as 0700: readable by no one but root."""
        out = []
        for parent in reversed(path.parents[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    for path in readable:
        args += [*parents(path), "--ro-bind", str(path), str(path)]
    # Hide the sources, the repository, the submissions, the results and the held-out data.
    visible = [*readable, *(Path(folder) for folder in SYSTEM)]
    for path in sandbox.hide:
        path = path.resolve() if path.exists() else path
        if not path.exists() or not any(path.is_relative_to(p) for p in visible):
            continue
        if path.is_dir():
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            args += ["--ro-bind", "/dev/null", str(path)]
    # The one writable place, at the same path as outside: the kernel's sockets are files there.
    args += [*parents(scratch), "--bind", str(scratch), str(scratch), "--remount-ro", "/",
             "--chdir", str(scratch / "cwd")]
    for name, value in kernel_environment(scratch, env).items():
        args += ["--setenv", name, value]
    args += ["--"]
    if as_root:  # never root inside: the process limit does not apply to uid 0
        args += as_kernel_user(sandbox.uid())
    args += [*_with_limits(limits), *command]
    return {"argv": args, "uid": sandbox.uid()}


def kernel_environment(scratch: Path, env: dict[str, str]) -> dict[str, str]:
    """The whole environment of a kernel in ``scratch``: its own folders, then ``env``."""
    from dlcourse.data.paths import cache_dir, data_dir

    return {"HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmp"),
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MPLCONFIGDIR": str(scratch / "home" / ".config" / "matplotlib"),
            "DLCOURSE_CACHE": str(cache_dir()), "DLCOURSE_DATA": str(data_dir()),
            "DLCOURSE_OFFLINE": "1", "USER": "learner", "LOGNAME": "learner", **env}


def as_kernel_user(uid: int | None) -> list[str]:
    """``setpriv``'s arguments that run what follows as ``uid``, with no capabilities."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def _with_limits(limits: Limits) -> list[str]:
    """``prlimit``'s arguments that set the limits on what follows (inherited by all it starts)."""
    return ["prlimit", f"--as={limits.memory}", f"--nproc={limits.processes}",
            f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}", f"--fsize={limits.file_size}",
            "--core=0", "--"]


def _unprivileged_config(sandbox: Sandbox, scratch: Path, env: dict[str, str],
                         command: list[str]) -> dict:
    """Without bubblewrap: an empty environment, the kernel's own user, the limits (as root only)."""
    uid = sandbox.uid()
    if uid is None:
        raise ValueError("running a kernel without bubblewrap as a user of its own needs root: "
                         "run the grader as root, or with bubblewrap")
    variables = [f"{name}={value}" for name, value in kernel_environment(scratch, env).items()]
    return {"argv": ["env", "-i", *variables, *as_kernel_user(uid), *_with_limits(sandbox.limits),
                     *command], "uid": uid}


def end_kernel_processes(sandbox: Sandbox) -> None:
    """Kill every process left by a kernel that ran without bubblewrap (a no-op with it).

    Without a PID namespace, a process the kernel started in a new session outlives it; each
    kernel runs as a user of its own, so every process of that user is the kernel's. ``kill -1``
    as that user reaches them all; the loop repeats, for what forked meanwhile, until none is left.
    """
    uid = sandbox.uid() if sandbox.enabled and not sandbox.bwrap else None
    if uid is None:
        return
    for _ in range(20):
        left = processes_of(uid)
        if not left:
            return
        subprocess.run([*as_kernel_user(uid), "kill", "-KILL", "-1"], capture_output=True)
        for pid in left:  # whatever ``kill -1`` missed
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"the processes of the kernel's user {uid} could not all be killed")


def processes_of(uid: int) -> list[int]:
    """The ids of the live processes whose real user is ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        real = next((line.split()[1] for line in status.splitlines() if line.startswith("Uid:")),
                    None)
        state = next((line.split()[1] for line in status.splitlines()
                      if line.startswith("State:")), "")
        if real == str(uid) and state != "Z":
            found.append(int(entry.name))
    return found


def prepare_scratch(scratch: Path, sandbox: Sandbox) -> None:
    """Create the scratch folder's parts, with the course's matplotlib font cache copied in.

    When the grader runs as root, the folder is given to the kernel's own user.
    """
    for part in ("tmp", "shm", "cwd", "home", "ipc", "home/.config/matplotlib"):
        (scratch / part).mkdir(parents=True, exist_ok=True)
    fonts = Path.home() / ".cache" / "matplotlib"
    for cache in fonts.glob("fontlist-*.json") if fonts.is_dir() else []:
        shutil.copyfile(cache, scratch / "home" / ".config" / "matplotlib" / cache.name)
    uid = sandbox.uid() if sandbox.enabled else None
    if uid is not None:
        for folder, subfolders, files in os.walk(scratch):
            for name in [folder, *(os.path.join(folder, n) for n in subfolders + files)]:
                os.chown(name, uid, uid)
        # bwrap as root has no privileges over files: it must reach the parts, and create mount
        # points in the sandbox's /tmp (a folder of the scratch folder, as /tmp is: 1777)
        scratch.chmod(0o711)
        for part in ("tmp", "shm"):
            (scratch / part).chmod(0o1777)
        parent = scratch.parent.stat().st_mode
        if not sandbox.bwrap and not parent & stat.S_IXOTH:  # the grader's own temporary folder:
            scratch.parent.chmod(parent | stat.S_IXOTH)    # without bwrap, the kernel passes it


def kernel_spec(spec_dir: Path, sandbox: Sandbox, scratch: Path, mode: str) -> str:
    """Write the kernelspec of a kernel in ``scratch`` (sandboxed when enabled); return its name.

    ``mode`` is dlcourse.checks' mode in that kernel: ``grading`` for a submission, ``key`` for
    the grader's run of the solution.
    """
    python = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
              "--HistoryManager.hist_file=:memory:"]
    env = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "DLCOURSE_CHECKS": mode, "PYTHONDONTWRITEBYTECODE": "1"}
    name = "dlcourse-grading"
    (spec_dir / name).mkdir(parents=True, exist_ok=True)
    if sandbox.enabled:
        config = spec_dir / name / "sandbox.json"
        config.write_text(json.dumps(sandbox_config(sandbox, scratch, env, python)))
        argv = [sys.executable, str(LAUNCHER), str(config), "{connection_file}"]
    else:
        argv = python
    (spec_dir / name / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "dlcourse grading", "language": "python",
         # bwrap would die of a SIGINT sent to its process group: interrupt by message instead
         "interrupt_mode": "message", "env": env}))
    return name


def hidden_paths(source: Path, submissions: Path, out: Path) -> list[Path]:
    """What a kernel must not see: the sources, the submissions, the results, .git, and the data
    the grader measures trained models on (:func:`dlcourse.model_tasks.held_out_files`)."""
    from dlcourse.model_tasks.task import held_out_files

    hide = [source.parent, submissions, out, *held_out_files()]
    if (ROOT / ".git").exists():
        hide.append(ROOT / ".git")
    return _outermost(hide)
