"""Start a process (a submission's kernel) in a sandbox.

Standard library only: this file is also run as a script, by path, as the first program inside the
new namespaces, before it hands over to the kernel::

    unshare --net --mount --pid --fork --kill-child --mount-proc \\
        python sandbox.py SPEC.json -- python -m ipykernel_launcher -f conn.json

What the sandbox gives (when the grader runs as root on Linux, the "strong" level):

- its own network namespace: only a loopback that is down, so no connection goes anywhere;
- its own PID namespace: the submission sees only its own processes and cannot signal the
  grader; when the kernel ends, every process it started ends with it;
- its own mount namespace, in which the grader's folders (solutions, submissions, the output and
  results folders, the checkout's git history) are covered by empty read-only file systems and
  the data folder is read-only;
- a scratch folder of its own: a size-capped in-memory file system (cwd, HOME, TMPDIR);
- another user id than the grader's (one per worker), so no file of the grader is writable;
- resource limits: address space, file size, open files, processes, CPU seconds, no core dumps;
- the result channel: a file only root can open, opened here before the user id changes, handed
  to the kernel as an inherited file descriptor (see ``execute.py``).

Without ``unshare`` (or where a container refuses it) root still runs the kernel as another user
with the limits ("uid"); without root only the limits apply ("limits-only"). The level is named in
every report.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys

CHANNEL_FD_ENV = "MDL_GRADE_CHANNEL_FD"
PR_SET_PDEATHSIG = 1
UNSHARE = ("unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc")

# Limits (bytes, counts, seconds) a kernel runs under unless the grader says otherwise.
DEFAULT_LIMITS = {
    "address_space": 8 * 1024**3,  # TensorFlow reserves ~3 GB of address space by itself
    "file_size": 64 * 1024**2,
    "open_files": 256,
    "processes": 512,  # per user id: TensorFlow's threads count too
    "cpu_seconds": 900,
    "scratch_bytes": 256 * 1024**2,
}


LEVELS = {
    "strong": "namespaces (no network, grader's folders hidden, own processes), another user id, resource limits",
    "uid": "another user id and resource limits; network and world-readable files stay reachable",
    "limits-only": "resource limits only; the submission runs as the grader's own user",
}


def isolation():
    """The strongest level this machine allows (see :data:`LEVELS`): ``"strong"`` for root with
    ``unshare`` on Linux, ``"uid"`` for root without it, ``"limits-only"`` otherwise."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "limits-only"
    return "strong" if shutil.which("unshare") else "uid"


def probe_strong():
    """Run ``true`` under the strong sandbox's namespaces; ``None`` if that works, else why not.

    Container platforms (Docker's default seccomp profile, some CI runners) refuse unshare even
    to root; the grader then falls back to "limits-only" and says so.
    """
    result = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True)
    if result.returncode != 0:
        return f"unshare failed ({result.returncode}): {result.stderr.strip()[:200]}"
    return None


def command(spec_path, argv, level):
    """The command line that starts ``argv`` in the sandbox described by ``spec_path``."""
    launcher = [sys.executable, os.path.abspath(__file__), str(spec_path), "--"]
    prefix = list(UNSHARE) if level == "strong" else []
    return prefix + launcher + list(argv)


def prepare(workdir, uid, level, hide=(), read_only=(), expose=(), private=(), env=None, limits=None):
    """Lay out ``workdir`` for one sandboxed process and write its spec; returns the spec (a dict,
    with the path of its JSON file under ``"path"``).

    ``workdir/channel`` (the result channel, root's alone), ``workdir/ipc`` (the kernel's
    connection file and sockets, the submission's user id's) and ``workdir/scratch`` (where the
    in-memory scratch folder is mounted) are made here.
    """
    workdir = os.path.abspath(workdir)
    for folder in hide:
        if os.path.commonpath([os.path.abspath(folder), workdir]) == os.path.abspath(folder):
            raise ValueError(f"cannot hide {folder} from the sandbox: it holds the sandbox's own folder {workdir}; "
                             "put the grader's working folder elsewhere")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o711)  # the sandboxed user may pass through, not list
    channel = os.path.join(workdir, "channel")
    with open(channel, "w"):
        pass
    os.chmod(channel, 0o600)
    for sub in ("ipc", "scratch"):
        os.makedirs(os.path.join(workdir, sub), exist_ok=True)
        if level in ("strong", "uid"):
            os.chown(os.path.join(workdir, sub), uid, uid)
        os.chmod(os.path.join(workdir, sub), 0o700)
    spec = {
        "level": level, "uid": uid, "channel": channel, "scratch": os.path.join(workdir, "scratch"),
        "ipc": os.path.join(workdir, "ipc"), "hide": [str(h) for h in hide],
        "expose": sorted({sys.base_prefix, sys.prefix, workdir, *map(str, expose)}),
        "private": [str(p) for p in private],
        "read_only": [str(r) for r in read_only], "env": dict(env or {}),
        "limits": {**DEFAULT_LIMITS, **(limits or {})},
    }
    spec["path"] = os.path.join(workdir, "sandbox.json")
    with open(spec["path"], "w") as fh:
        json.dump(spec, fh, indent=1)
    os.chmod(spec["path"], 0o600)
    return spec


def kill_user(uid):
    """SIGKILL every process of user id ``uid`` (a worker slot's own: nothing else runs as it);
    returns how many there were. The grader calls this after each kernel, whatever ended it."""
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                real_uid = next(int(line.split()[1]) for line in fh if line.startswith("Uid:"))
            if real_uid == uid:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
        except (FileNotFoundError, ProcessLookupError):  # it ended while we looked
            continue
    return killed


def _mount(*args):
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _blocked_ancestor(path):
    """The highest folder above ``path`` that other users may not pass through (no o+x), or None."""
    blocked = None
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts)):
        folder = os.sep.join(parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            blocked = blocked or folder
    return blocked


def _inside(path, folder):
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


def _expose(paths, private=()):
    """Replace private folders by empty ones that hold only ``paths``, mounted back in place from
    descriptors opened before: a folder that other users may not pass through (a Python installed
    under /root, a test's 0700 temporary folder), and each folder of ``private`` (the checkout,
    whose other files — executed solutions in runs/, benchmarks — the submission has no business
    reading). A private folder with no path of ``paths`` inside it is emptied altogether."""
    moves, covers = [], {os.path.abspath(f) for f in private if os.path.isdir(f)}
    for path in paths:
        if not os.path.isdir(path):
            continue
        cover = _blocked_ancestor(path) or next((f for f in sorted(covers) if _inside(path, f)), None)
        if cover is not None:
            covers.add(cover)
            moves.append((path, os.open(path, os.O_PATH)))
    for cover in sorted(covers):  # parents before children
        os.makedirs(cover, exist_ok=True)  # inside a parent's empty folder, if it has one
        _mount("-t", "tmpfs", "-o", "size=64k,mode=755", "mdl-exposed", cover)
    for path, fd in sorted(moves):
        os.makedirs(path, exist_ok=True)
        _mount("--no-canonicalize", "--bind", f"/proc/{os.getpid()}/fd/{fd}", path)  # not the hidden path
        os.close(fd)


def _set_limits(limits):
    pairs = {
        resource.RLIMIT_AS: limits["address_space"],
        resource.RLIMIT_FSIZE: limits["file_size"],
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_CPU: limits["cpu_seconds"],
        resource.RLIMIT_CORE: 0,
    }
    if "processes" in limits:
        pairs[resource.RLIMIT_NPROC] = limits["processes"]
    for which, value in pairs.items():
        resource.setrlimit(which, (value, value))


def enter(spec):
    """Inside the new namespaces (or plainly, without root): hide, limit, drop privileges.

    Returns the environment the kernel gets. Runs as root on the strong level; every step that
    fails raises, so a kernel never starts half-sandboxed.
    """
    strong = spec["level"] == "strong"
    # the result channel first, while this process may still open it
    channel = os.open(spec["channel"], os.O_WRONLY | os.O_APPEND)
    os.set_inheritable(channel, True)
    scratch = spec["scratch"]
    if strong:
        _expose(spec["expose"], spec["private"])
        # then a capped in-memory scratch folder, owned by the submission's user id (after _expose,
        # whose bind mounts would otherwise show the folder beneath it)
        uid = spec["uid"]
        _mount("-t", "tmpfs", "-o", f"size={spec['limits']['scratch_bytes']},mode=700,uid={uid},gid={uid}",
               "mdl-scratch", scratch)
        for folder in spec["hide"]:
            if os.path.isdir(folder):
                _mount("-t", "tmpfs", "-o", "ro,size=4k,mode=000", "mdl-hidden", folder)
            elif os.path.exists(folder):
                _mount("--bind", "/dev/null", folder)
        for folder in spec["read_only"]:
            if os.path.isdir(folder):
                _mount("--bind", folder, folder)
                _mount("-o", "remount,bind,ro", folder)
    other_user = spec["level"] in ("strong", "uid")
    for sub in ("home", "tmp", "mpl", "work"):
        os.makedirs(os.path.join(scratch, sub), exist_ok=True)
        if other_user:
            os.chown(os.path.join(scratch, sub), spec["uid"], spec["uid"])
    _set_limits(spec["limits"] if other_user else {k: v for k, v in spec["limits"].items() if k != "processes"})
    if other_user:
        os.setgroups([])
        os.setgid(spec["uid"])
        os.setuid(spec["uid"])
        if os.getuid() == 0 or os.geteuid() == 0:
            raise RuntimeError("the sandbox could not drop root")
        # changing the user id cleared unshare's --kill-child; ask again to die with unshare
        import ctypes

        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    os.chdir(os.path.join(scratch, "work"))
    env = dict(spec["env"])
    env.update(HOME=os.path.join(scratch, "home"), TMPDIR=os.path.join(scratch, "tmp"),
               MPLCONFIGDIR=os.path.join(scratch, "mpl"), IPYTHONDIR=os.path.join(scratch, "home", ".ipython"))
    env[CHANNEL_FD_ENV] = str(channel)
    return env


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit("usage: sandbox.py SPEC.json -- PROGRAM [ARGS…]")
    with open(argv[1]) as fh:
        spec = json.load(fh)
    env = enter(spec)
    program = argv[3:]
    os.execve(program[0], program, env)


if __name__ == "__main__":
    main(sys.argv)
