"""One bubblewrap sandbox per submission, for every process that runs student code.

The sandbox starts from an *empty* root file system and binds back, read-only, only what a
kernel needs: the system libraries (``/usr`` and its links), a few files of ``/etc``, the
Python environment (the venv and its base interpreter) and the ``relu_course`` package.
Read-write it sees one private scratch folder (the submission's copy, a home folder,
IPython's folder, the kernel's connection file and IPC sockets). It has its own mount, PID,
network (loopback only), IPC, UTS and cgroup namespaces, no capabilities, no core dumps,
bounded memory (``RLIMIT_AS``) and file size (``RLIMIT_FSIZE``), and every process inside dies
with it: bubblewrap's init is PID 1 of the namespace and ``--die-with-parent`` kills it when
the grader's worker goes away. The course folder, ``solutions/``, the gradebook,
``submitted/``, ``autograded/``, ``feedback/``, the exports and other submissions' scratch
folders are simply not in its file system.

Nothing here runs student code itself: :func:`command` returns the argument list, and
:func:`launch` starts it in a new session so that :func:`kill` can end the whole group.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from relu_course.runtime import KERNEL_ENV

__all__ = [
    "MISSING_MESSAGE",
    "Sandbox",
    "available",
    "kill",
    "launch",
]

MISSING_MESSAGE = (
    "relu-course grade: bubblewrap (bwrap) is not installed, so student code cannot be "
    "sandboxed. Install it (Debian/Ubuntu: apt-get install bubblewrap) or, only for "
    "submissions you trust, pass --no-sandbox."
)

GIB = 1024**3
# Files of /etc a Python kernel reads (dynamic linker, user names, fonts, time zone, TLS
# roots); nothing else of /etc (shadow, ssh keys, machine secrets) is in the sandbox.
_ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "nsswitch.conf",
    "passwd",
    "group",
    "hosts",
    "localtime",
    "fonts",
    "ssl",
    "alternatives",
    "mime.types",
)
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def available() -> bool:
    """bwrap is installed and can create the namespaces here (checked by running ``true``)."""
    if shutil.which("bwrap") is None:
        return False
    probe = Sandbox(scratch=None)
    try:
        done = subprocess.run(
            probe.command(["/bin/true"]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _python_roots() -> list[Path]:
    """Folders that hold the running Python: the venv, the base interpreter, site dirs."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    roots.add(Path(sys.executable).parent)
    roots.add(Path(os.path.realpath(sys.executable)).parent.parent)
    return sorted({Path(os.path.realpath(r)) for r in roots if r.exists()})


def _package_roots() -> list[Path]:
    """The ``relu_course`` package folder (an editable install lives in the checkout)."""
    import relu_course

    return [Path(os.path.realpath(Path(relu_course.__file__).parent))]


def _covered(path: Path, roots: list[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


@dataclass
class Sandbox:
    """A sandbox whose only writable folder is ``scratch`` (``None``: none at all).

    ``memory_bytes`` bounds the address space of every process inside (TensorFlow reserves
    virtual memory generously: keep it well above the resident need); ``file_bytes`` bounds
    each file written; ``extra_ro`` are more folders to show read-only.
    """

    scratch: Path | None
    memory_bytes: int = 12 * GIB
    file_bytes: int = 2 * GIB
    extra_ro: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    tmp_bytes: int = GIB

    def command(self, argv: list[str], cwd: Path | None = None) -> list[str]:
        args = [
            "bwrap",
            "--die-with-parent",
            "--new-session",
            "--unshare-all",  # mount, PID, network, IPC, UTS, cgroup (and user when allowed)
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
            "--tmpfs",
            "/",
        ]
        for path in _SYSTEM:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for name in _ETC:
            path = f"/etc/{name}"
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        args += ["--dev", "/dev", "--proc", "/proc", "--dir", "/var/tmp"]
        # /tmp lives in memory: bounded, so filling it cannot exhaust the machine's RAM.
        # Mounted *before* the Python environment and the package: a course checked out
        # under /tmp (CI clones, scratch copies) must be bound on top of it, not hidden.
        args += ["--size", str(self.tmp_bytes), "--tmpfs", "/tmp"]
        roots: list[Path] = []
        for path in [*_python_roots(), *_package_roots(), *map(Path, self.extra_ro)]:
            path = Path(os.path.realpath(path))
            if _covered(path, roots) or _covered(path, [Path(p) for p in _SYSTEM]):
                continue
            roots.append(path)
            args += ["--ro-bind", str(path), str(path)]
        if self.scratch is not None:
            scratch = str(Path(os.path.realpath(self.scratch)))
            args += ["--bind", scratch, scratch]
            home = f"{scratch}/home"
            Path(home).mkdir(parents=True, exist_ok=True)
            env = {
                "HOME": home,
                "IPYTHONDIR": f"{home}/.ipython",
                "MPLCONFIGDIR": f"{home}/.matplotlib",
                "XDG_STATE_HOME": f"{home}/.local/state",
                "XDG_CACHE_HOME": f"{home}/.cache",
                "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter-runtime",
                "TMPDIR": "/tmp",
            }
        else:
            env = {"HOME": "/tmp"}
        args += ["--clearenv"]
        base_env = {
            "PATH": os.pathsep.join(
                [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            **KERNEL_ENV,  # the course kernel's: TensorFlow quiet, Keras on TensorFlow
            "PYTHONDONTWRITEBYTECODE": "1",
            "CUDA_VISIBLE_DEVICES": "",
        }
        for key, value in {**base_env, **env, **self.env}.items():
            args += ["--setenv", key, value]
        if cwd is not None:
            args += ["--chdir", str(cwd)]
        args += ["--remount-ro", "/"]  # the skeleton root: nothing new can be created there
        return [*args, "--", *argv]

    def limits(self) -> None:
        """Resource limits for the sandbox's processes (``preexec_fn`` of :func:`launch`)."""
        resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_bytes, self.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def launch(
    sandbox: Sandbox | None,
    argv: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    **popen,
) -> subprocess.Popen:
    """Start ``argv`` in ``sandbox`` (``None``: unsandboxed, for ``--no-sandbox``), as the
    leader of a new process group, with the sandbox's resource limits."""
    if sandbox is None:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            **popen,
        )
    with_env = dataclasses.replace(sandbox, env={**sandbox.env, **(env or {})})
    return subprocess.Popen(
        with_env.command(argv, cwd=cwd),
        cwd=cwd,
        start_new_session=True,
        preexec_fn=with_env.limits,  # noqa: PLW1509 - only setrlimit calls
        **popen,
    )


def kill(process: subprocess.Popen | None, wait: float = 10.0) -> None:
    """Kill ``process`` and its whole process group (in a sandbox: its PID namespace)."""
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.kill()
    except OSError:
        pass
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        pass
