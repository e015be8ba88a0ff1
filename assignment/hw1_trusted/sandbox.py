"""The student's side of the boundary: an unprivileged user, a folder of its own, and an end.

Code runs as that user with no access to the autograder's source, the seed or the results.
When the phase is over, every process of the user is killed, whatever it forked or detached,
so nothing the student started can run on while the verdict is made.

Where the platform allows it, the phase also runs in a sandbox of its own: bubblewrap's mount, PID,
IPC, network and UTS namespaces (``namespace_argv``), and a cgroup with a CPU quota, a memory limit
and a process limit (``Cgroup``). Both are probed for; neither is required.
"""

from __future__ import annotations

import collections
import ctypes
import os
import pathlib
import platform
import pwd
import resource
import shutil
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import settings

Tools = tuple[str, str]  # (bubblewrap, setpriv)
Wrap = Callable[[list[str]], tuple[list[str], tuple[int, ...]]]  # argv -> (the sandboxed argv, fds it reads)


def ensure_user(name: str) -> tuple[int, int]:
    """(uid, gid) of the sandbox user, created without a home or a login shell if it is missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise RuntimeError(f"the sandbox user {name} must not be root")
    return entry.pw_uid, entry.pw_gid


def processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def kill_until_gone(list_pids: Callable[[], Iterable[int]], rounds: int) -> tuple[int, bool]:
    """SIGKILLs the processes that ``list_pids()`` names until it names none (a fork may add one between
    rounds); returns (how many were killed, whether none is left)."""
    killed = 0
    for _ in range(rounds):
        pids = list_pids()
        if not pids:
            return killed, True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    return killed, not list_pids()


def kill_all(uid: int, rounds: int = 50) -> int:
    """SIGKILLs every process of ``uid`` until none is left; returns how many were killed."""
    killed, gone = kill_until_gone(lambda: processes_of(uid), rounds)
    if not gone:
        raise RuntimeError(f"processes of uid {uid} survive: {processes_of(uid)}")
    return killed


def chown_tree(path: str | os.PathLike[str], uid: int, gid: int) -> None:
    for root, _dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


class OutputTail:
    """The last ``limit`` bytes of what a process writes to a pipe, read by a thread of the route's.

    The student phase's output reaches root only this way: through a pipe whose reader keeps a bounded tail, never
    through a file of root's that the student's code could write a gigabyte into."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd, self.limit, self.kept, self.total = fd, limit, 0, 0
        self.chunks: collections.deque[bytes] = collections.deque()
        self.lock = threading.Lock()  # a writer left running (no namespaces) may still feed the reader
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            with self.lock:
                self.total += len(chunk)
                self.chunks.append(chunk)
                self.kept += len(chunk)
                while self.kept - len(self.chunks[0]) >= self.limit:
                    self.kept -= len(self.chunks.popleft())
        os.close(self.fd)

    def text(self, wait: float = 2.0) -> bytes:
        """What was kept (at most ``limit`` bytes, the end of the output), once the writers are gone."""
        self.thread.join(wait)
        with self.lock:
            data, total = b"".join(self.chunks)[-self.limit :], self.total
        dropped = total - len(data)
        head = f"[{dropped} earlier bytes of output dropped: only the last {self.limit} are kept]\n" if dropped else ""
        return head.encode() + data


def run_as(
    uid: int | None,
    gid: int | None,
    argv: list[str],
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    timeout: float,
    log_path: str | os.PathLike[str],
    namespaces: Wrap | None = None,
    cgroup: Cgroup | None = None,
    file_size: int | None = None,
    output_limit: int = 2**20,
    watch: Callable[[float], str | None] | None = None,
) -> tuple[int | None, float, str | None]:
    """Runs argv as uid:gid in its own session; returns (exit code or None when it was stopped, seconds, why it was
    stopped: None, "wall" after ``timeout`` seconds, or what ``watch`` returned).

    ``watch``: called about twice a second with the seconds elapsed; a true value stops the process (a limit).

    ``namespaces``: a function of argv that wraps it in the sandbox tool (``namespace_argv``), which
    starts as root and becomes uid:gid itself, and the file descriptors that tool reads (its seccomp filter; closed
    here once the process has them).
    ``cgroup``: joined before anything runs. ``file_size``: RLIMIT_FSIZE, the largest file it may write.
    Its output goes through a pipe: the last ``output_limit`` bytes are written to ``log_path`` at the end.
    """
    started = time.monotonic()

    def demote() -> None:  # no imports here (after the switch to the user, the stdlib may be unreadable to it)
        os.setsid()
        if cgroup is not None:
            cgroup.join()  # as root, before the switch: the cgroup's files are root's
        if file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        if uid is not None:  # a fork bomb cannot starve the grader: the sandbox user has a cap on its processes
            resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
            if namespaces is None:  # else the sandbox tool switches, once its namespaces are made
                os.setgroups([])
                os.setresgid(gid, gid, gid)  # type: ignore[arg-type]  # given with uid
                os.setresuid(uid, uid, uid)

    pass_fds: tuple[int, ...] = ()
    if namespaces is not None:
        argv, pass_fds = namespaces(argv)
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=write_end,
            stderr=write_end,
            stdin=subprocess.DEVNULL,
            preexec_fn=demote,
            umask=0o077,
            pass_fds=pass_fds,
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
        for fd in pass_fds:
            os.close(fd)
    tail = OutputTail(read_end, output_limit)
    code: int | None = None
    stopped: str | None = None
    while code is None and stopped is None:
        try:
            code = process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            stopped = "wall" if elapsed >= timeout else (watch(elapsed) if watch else None)
    if stopped is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        code = None
    seconds = time.monotonic() - started
    with open(log_path, "wb") as log:
        log.write(tail.text())
    return code, seconds, stopped


def run_delay(pid: int) -> float | None:
    """Seconds that ``pid`` has waited for a CPU while it was ready to run (/proc/PID/schedstat), or None."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def cpu_of(pid: int) -> float | None:
    """CPU seconds of ``pid`` and of its reaped children (/proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def remove_files_of(uid: int, folders: Iterable[str] = ("/tmp", "/var/tmp", "/dev/shm")) -> None:
    """Deletes what the user left in the shared temporary folders (top level), so nothing lingers for later."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def remove(path: str | os.PathLike[str]) -> None:
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# Namespaces (bubblewrap) and limits (cgroups): one sandbox per grading, where the platform allows them
# ------------------------------------------------------------------------------------------------

DISABLE = settings.SANDBOX.name  # "none": no namespaces (forces the fallback, for tests); the cgroups stay
NO_CGROUP = settings.CGROUP.name  # "none": no cgroup (forces that fallback, for tests)


def bwrap_command() -> tuple[Tools | None, str]:
    """bubblewrap and setpriv (util-linux), or (None, reason) when the sandbox tool is missing or disabled."""
    if settings.SANDBOX.value():
        return None, f"disabled by {DISABLE}={settings.SANDBOX.raw()}"
    search = os.environ.get("PATH", "") + ":/usr/bin:/bin:/usr/sbin:/sbin"
    bwrap, setpriv = shutil.which("bwrap", path=search), shutil.which("setpriv", path=search)
    if not bwrap:
        return None, "bubblewrap (bwrap) is not installed"
    if not setpriv:
        return None, "setpriv (util-linux) is not installed"
    return (bwrap, setpriv), ""


def namespace_argv(
    tools: Tools,
    root: str | os.PathLike[str],
    readonly: Iterable[str],
    uid: int | None,
    gid: int | None,
    argv: Sequence[str],
    tmp_bytes: int,
    scratch: Mapping[str, str | os.PathLike[str]] | None = None,
    seccomp_fd: int | None = None,
) -> list[str]:
    """argv run by bubblewrap in new mount, PID, IPC, network (a loopback of its own) and UTS namespaces.

    bwrap runs as root and sets up the mounts; setpriv then becomes ``uid``:``gid`` with no capability
    and no way to gain one (no user namespace is used: in one, root's files would be the student's own).
    The new root holds only: /usr, /etc and the system's library links, read-only; each ``readonly``
    path (the Python environment, the datasets); a fresh /proc and a minimal /dev; empty private
    /tmp, /var/tmp and /dev/shm of at most ``tmp_bytes`` each; and ``root`` (the grading's own folder),
    the one place it may write to (in the folders the user owns).

    ``scratch``: {"/tmp": folder, "/var/tmp": folder, "/dev/shm": folder} on the grading's own sized tmpfs, bound
    there instead of a tmpfs each, so that everything the phase can write shares one disk budget.
    ``seccomp_fd``: a file descriptor holding the seccomp filter (``seccomp_program``), which bubblewrap installs
    last, for the student's runner and everything it starts.
    """
    bwrap, setpriv = tools
    args = [
        bwrap,
        "--unshare-pid",
        # the student phase's runner is the namespace's PID 1: when it ends, the kernel kills every other process
        # of the namespace before its end can be seen, so nothing can wait for the runner's end and then hand an
        # answer over (bubblewrap's own PID 1 would reap the runner first and leave that window open)
        "--as-pid-1",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "hw1-sandbox",
    ]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + top
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    made = {"/", "/usr", "/etc", "/proc", "/dev", "/dev/shm", "/tmp", "/var/tmp"}

    def parents(
        path: str | os.PathLike[str],
    ) -> list[str]:  # the folders on the way, made open to all (bwrap's own would follow the umask)
        folders: list[str] = []
        for parent in reversed(pathlib.PurePath(path).parents):
            if str(parent) not in made:
                made.add(str(parent))
                folders += ["--perms", "0755", "--dir", str(parent)]
        return folders

    args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for path in readonly:
        args += [*parents(path), "--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", *parents("/var/tmp")]
    for private in ("/dev/shm", "/tmp", "/var/tmp"):
        if scratch:
            args += ["--bind", str(scratch[private]), private]
        else:
            args += ["--perms", "1777", "--size", str(int(tmp_bytes)), "--tmpfs", private]
    args += [*parents(root), "--bind", str(root), str(root), "--chdir", str(root)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    if uid is None:
        return [*args, "--", *argv]
    return [
        *args,
        "--",
        setpriv,
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        *argv,
    ]


def readonly_paths(*paths: str | None) -> list[str]:
    """The folders to show read-only: those given (and where their links lead), minus /usr's and nested ones."""
    found = set()
    for path in paths:
        if not path:
            continue
        for p in (os.path.abspath(path), os.path.realpath(path)):
            if os.path.isdir(p) and p != "/" and not (p + "/").startswith("/usr/"):
                found.add(p)
    return sorted(p for p in found if not any(p != q and p.startswith(q + "/") for q in found))


_probed: dict[Tools, str] = {}  # bubblewrap command -> its probe's result


def probe_namespaces(uid: int, gid: int) -> tuple[Tools | None, str]:
    """(tools, "") if bubblewrap can make the sandbox here, else (None, why not). Tried once per process."""
    tools, reason = bwrap_command()
    if tools is None:
        return None, reason
    if tools not in _probed:
        try:
            run = subprocess.run(
                namespace_argv(tools, "/", [], uid, gid, ["/bin/true"], 2**20),
                capture_output=True,
                text=True,
                timeout=30,
            )
            _probed[tools] = (
                "" if run.returncode == 0 else (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1]
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            _probed[tools] = str(error)
    if _probed[tools]:
        return None, f"bubblewrap cannot create namespaces here ({_probed[tools][:200]})"
    return tools, ""


def bwrap_version(tools: Tools) -> str:
    try:
        return subprocess.run([tools[0], "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "bubblewrap"


def _mounts() -> dict[str, Any]:
    """{"v1": {controller: (mount point, mounted root)}, "v2": (mount point, mounted root) or None}."""
    v1: dict[str, tuple[str, str]] = {}
    v2: tuple[str, str] | None = None
    try:
        lines = open("/proc/self/mountinfo").read().splitlines()
    except OSError:
        return {"v1": v1, "v2": v2}
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        mounted_root, point, fstype = fields[3], fields[4], rest[0]
        if fstype == "cgroup":
            for option in rest[2].split(","):
                if option in ("cpu", "cpuacct", "memory", "pids"):
                    v1.setdefault(option, (point, mounted_root))
        elif fstype == "cgroup2" and v2 is None:
            v2 = (point, mounted_root)
    return {"v1": v1, "v2": v2}


def _own_path(hierarchy: str) -> str:
    """This process's cgroup path in the v1 hierarchy of ``hierarchy`` (a controller), or in v2 (``""``)."""
    for line in open("/proc/self/cgroup").read().splitlines():
        _, controllers, path = line.split(":", 2)
        if (hierarchy == "" and controllers == "") or (hierarchy and hierarchy in controllers.split(",")):
            return path
    return "/"


def _under(mount: tuple[str, str], path: str) -> str:
    point, mounted_root = mount
    if mounted_root != "/" and (path + "/").startswith(mounted_root.rstrip("/") + "/"):
        path = path[len(mounted_root.rstrip("/")) :]  # a container's view: its own cgroup is the mount's root
    return os.path.join(point, path.lstrip("/"))


def own_cgroup_files(*names: str) -> list[pathlib.Path]:
    """The paths of ``names`` in this process's own cgroup, in each hierarchy that may hold them (v2, then v1's
    memory and cpu): where a container's limits are."""
    mounts, paths = _mounts(), list[pathlib.Path]()
    if mounts["v2"] is not None:
        paths += [pathlib.Path(_under(mounts["v2"], _own_path(""))) / n for n in names]
    for controller in ("memory", "cpu"):
        if controller in mounts["v1"]:
            paths += [pathlib.Path(_under(mounts["v1"][controller], _own_path(controller))) / n for n in names]
    return paths


def remove_stale_cgroups(prefix: str) -> int:
    """Kills the processes of, and removes, the cgroups named ``prefix``... below this process's own (a grading
    that was stopped before it could remove its own). Returns how many were removed."""
    removed = 0
    mounts = _mounts()
    places = [_under(mount, _own_path(c)) for c, mount in mounts["v1"].items()]
    if mounts["v2"] is not None and not mounts["v1"]:
        places += [_under(mounts["v2"], _own_path("")), os.path.join(mounts["v2"][0], "hw1-gradings")]
    for place in places:
        try:
            names = [n for n in os.listdir(place) if n.startswith(prefix)]
        except OSError:
            continue
        for name in names:
            group = Cgroup("v1" if mounts["v1"] else "v2", {"": os.path.join(place, name)})
            group.remove()
            removed += not os.path.exists(os.path.join(place, name))
    return removed


def _v2_parent(parent: str) -> str:
    """``parent`` with the cpu, memory and pids controllers enabled for its children; OSError where it cannot
    (EBUSY: it holds processes itself) or where none of them is available."""
    wanted = [
        c for c in ("cpu", "memory", "pids") if c in open(os.path.join(parent, "cgroup.controllers")).read().split()
    ]
    if not wanted:
        raise OSError(f"no cpu, memory or pids controller in {parent}")
    enabled = open(os.path.join(parent, "cgroup.subtree_control")).read().split()
    missing = [c for c in wanted if c not in enabled]
    if missing:
        with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
            f.write(" ".join("+" + c for c in missing))
    return parent


class Cgroup:
    """One grading's cgroup, below this process's own: a CPU quota, a memory limit (no swap), a process limit.

    cgroup v1 (the cpu, memory and pids hierarchies, and cpuacct to count CPU time) or v2, whichever the
    machine has. Its files are root's and the student's sandbox shows no /sys: nothing inside can undo it.
    ``Cgroup.create`` returns (cgroup or None, note) and never raises: the route grades without one.
    """

    def __init__(self, version: str, dirs: dict[str, str]) -> None:
        self.version, self.dirs = version, dirs  # {controller or "": folder}

    @classmethod
    def create(
        cls, name: str, cpus: float | None = None, memory: int | None = None, pids: int | None = None
    ) -> tuple[Cgroup | None, str]:
        if settings.CGROUP.value():
            return None, f"cgroups disabled by {NO_CGROUP}={settings.CGROUP.raw()}"
        dirs: dict[str, str] = {}
        try:
            mounts = _mounts()
            if "memory" in mounts["v1"] or "cpu" in mounts["v1"]:
                for controller in ("cpu", "cpuacct", "memory", "pids"):
                    if controller in mounts["v1"]:
                        folder = os.path.join(_under(mounts["v1"][controller], _own_path(controller)), name)
                        os.makedirs(folder, exist_ok=True)
                        dirs[controller] = folder
                group = cls("v1", dirs)
                group._limit_v1(cpus, memory, pids)
            elif mounts["v2"] is not None:
                try:  # below this process's own cgroup, if it may delegate (it holds no process of its own) ...
                    parent = _v2_parent(_under(mounts["v2"], _own_path("")))
                except OSError:  # ... else below a folder of the grader's at the hierarchy's root (a host's systemd)
                    top = _v2_parent(mounts["v2"][0])
                    parent = os.path.join(top, "hw1-gradings")
                    os.makedirs(parent, exist_ok=True)
                    parent = _v2_parent(parent)
                folder = os.path.join(parent, name)
                os.makedirs(folder, exist_ok=True)
                dirs[""] = folder
                group = cls("v2", dirs)
                group._limit_v2(cpus, memory, pids)
            else:
                return None, "no cgroup filesystem is mounted"
        except (OSError, ValueError) as error:
            cls("v1", dirs).remove()  # what was made before the failure
            return None, f"no cgroup could be made ({type(error).__name__}: {error})"
        return group, f"cgroup {group.version}"

    def _write(self, controller: str, file: str, value: object) -> None:
        with open(os.path.join(self.dirs[controller], file), "w") as f:
            f.write(str(value))

    def _limit_v1(self, cpus: float | None, memory: int | None, pids: int | None) -> None:
        if cpus and "cpu" in self.dirs:
            self._write("cpu", "cpu.cfs_period_us", 100_000)
            self._write("cpu", "cpu.cfs_quota_us", max(1000, int(cpus * 100_000)))
        if memory and "memory" in self.dirs:
            self._write("memory", "memory.limit_in_bytes", int(memory))
            if os.path.exists(os.path.join(self.dirs["memory"], "memory.memsw.limit_in_bytes")):
                self._write("memory", "memory.memsw.limit_in_bytes", int(memory))
        if pids and "pids" in self.dirs:
            self._write("pids", "pids.max", int(pids))

    def _limit_v2(self, cpus: float | None, memory: int | None, pids: int | None) -> None:
        folder = self.dirs[""]
        if cpus and os.path.exists(os.path.join(folder, "cpu.max")):
            self._write("", "cpu.max", f"{max(1000, int(cpus * 100_000))} 100000")
        if memory and os.path.exists(os.path.join(folder, "memory.max")):
            self._write("", "memory.max", int(memory))
            if os.path.exists(os.path.join(folder, "memory.swap.max")):
                self._write("", "memory.swap.max", 0)
        if pids and os.path.exists(os.path.join(folder, "pids.max")):
            self._write("", "pids.max", int(pids))

    def join(self, pid: int = 0) -> None:
        """Moves ``pid`` (0: the caller; usable as a preexec_fn) into every hierarchy of the cgroup."""
        for folder in self.dirs.values():
            with open(os.path.join(folder, "cgroup.procs"), "w") as f:
                f.write(str(pid or os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.dirs.values():
            try:
                found.update(int(p) for p in open(os.path.join(folder, "cgroup.procs")).read().split())
            except (OSError, ValueError):
                pass
        return found

    def kill(self, rounds: int = 100) -> int:
        """SIGKILLs every process in the cgroup until none is left; returns how many were killed."""
        return kill_until_gone(self.pids, rounds)[0]

    def _read(self, controller: str, file: str) -> str:
        try:
            return open(os.path.join(self.dirs[controller], file)).read()
        except (KeyError, OSError):
            return ""

    def stats(self) -> dict[str, Any]:
        """What the processes used: CPU seconds, times throttled, peak memory (MB), OOM kills, peak processes."""

        def field(text: str, key: str) -> int | None:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                    return int(parts[1])
            return None

        if self.version == "v1":
            usage = self._read("cpuacct", "cpuacct.usage").strip()
            memory = self._read("memory", "memory.max_usage_in_bytes").strip()
            return {
                "cpu_seconds": round(int(usage) / 1e9, 2) if usage.isdigit() else None,
                "throttled": field(self._read("cpu", "cpu.stat"), "nr_throttled"),
                "memory_peak_mb": round(int(memory) / 2**20) if memory.isdigit() else None,
                "oom_kills": field(self._read("memory", "memory.oom_control"), "oom_kill"),
                "memory_limit_hits": int(self._read("memory", "memory.failcnt") or 0)
                if self._read("memory", "memory.failcnt").strip().isdigit()
                else None,
                "pids_limit_hits": field(self._read("pids", "pids.events"), "max"),
            }
        cpu = self._read("", "cpu.stat")
        usec = field(cpu, "usage_usec")
        peak = self._read("", "memory.peak").strip()
        return {
            "cpu_seconds": round(usec / 1e6, 2) if usec is not None else None,
            "throttled": field(cpu, "nr_throttled"),
            "memory_peak_mb": round(int(peak) / 2**20) if peak.isdigit() else None,
            "oom_kills": field(self._read("", "memory.events"), "oom_kill"),
            "memory_limit_hits": field(self._read("", "memory.events"), "max"),
            "pids_limit_hits": field(self._read("", "pids.events"), "max"),
        }

    def remove(self) -> None:
        self.kill()
        for folder in self.dirs.values():
            for _ in range(20):
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


# ------------------------------------------------------------------------------------------------
# The student phase's disk: one sized tmpfs per grading, in a mount namespace of the route's own
# ------------------------------------------------------------------------------------------------

_CLONE_NEWNS, _MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE, _MNT_DETACH = 0x00020000, 2, 4, 16384, 1 << 18, 2


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _failed(call: str) -> str:
    return f"{call} failed: {os.strerror(ctypes.get_errno())}"


def private_mounts() -> str:
    """Moves this process (and what it starts) into a mount namespace of its own whose mounts propagate nowhere,
    so that the tmpfs it mounts vanish with it, even when it is killed. Returns "" or why it could not."""
    libc = _libc()
    if libc.unshare(_CLONE_NEWNS) != 0:
        return _failed("unshare(CLONE_NEWNS)")
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return _failed("making the mounts private")
    return ""


def mount_tmpfs(path: str | os.PathLike[str], size: int) -> str:
    """A tmpfs of at most ``size`` bytes at ``path`` (mode 0711, no devices, no set-uid), whose pages are charged
    to the memory cgroup of whoever writes them. Returns "" or why it could not be mounted."""
    options = f"size={int(size)},mode=0711".encode()
    if _libc().mount(b"hw1-student", str(path).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
        return _failed("mounting a tmpfs")
    return ""


def unmount(path: str | os.PathLike[str]) -> None:
    _libc().umount2(str(path).encode(), _MNT_DETACH)


def disk_used(path: str | os.PathLike[str]) -> int | None:
    """Bytes in use on the filesystem of ``path`` (statvfs), or None."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    return (info.f_blocks - info.f_bfree) * info.f_frsize


# ------------------------------------------------------------------------------------------------
# The system calls a notebook never needs: a seccomp filter that bubblewrap installs (--seccomp FD)
# ------------------------------------------------------------------------------------------------

_X86_64 = 0xC000003E  # AUDIT_ARCH_X86_64
# x86_64 numbers: namespaces and mounts (unshare, setns, mount, umount2, pivot_root, chroot, and the new mount API),
# kernel keyrings, BPF, perf, userfaultfd, io_uring, ptrace and other processes' memory, modules, kexec, handles,
# accounting, swap, reboot, host names, port I/O, quotas, the kernel log
DENIED_SYSCALLS = {
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "ptrace": 101,
    "process_vm_readv": 310, "process_vm_writev": 311, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320, "open_by_handle_at": 304,
    "name_to_handle_at": 303, "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170,
    "setdomainname": 171, "iopl": 172, "ioperm": 173, "quotactl": 179, "lookup_dcookie": 212, "syslog": 103,
}  # fmt: skip
_CLONE, _CLONE3 = 56, 435
# clone's flags that make a namespace (user, mount, PID, network, IPC, UTS, cgroup): threads and forks stay allowed
_NEW_NAMESPACES = 0x10000000 | 0x00020000 | 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x02000000
_EPERM, _ENOSYS = 1, 38
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


def seccomp_program() -> tuple[bytes | None, str]:
    """The filter as classic BPF (struct sock_filter[]), or (None, why) where it is not written for this machine.

    Other ABIs (x32, i386 through int 0x80) are refused whole; clone3 answers ENOSYS, so that the C library falls
    back to clone, whose flags the filter can read (clone3's are behind a pointer)."""
    if platform.machine() != "x86_64":
        return None, f"no seccomp filter for {platform.machine()} (it is written for x86_64)"
    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    program: list[tuple[Any, ...]] = [
        (ld_abs, 0, 0, 4),
        (jeq, 1, 0, _X86_64),
        ("deny",),
        (ld_abs, 0, 0, 0),
        (jge, "deny", 0, 0x40000000),
    ]
    program += [(jeq, "deny", 0, nr) for nr in sorted(DENIED_SYSCALLS.values())]
    program += [(jeq, "enosys", 0, _CLONE3), (jeq, "clone", 0, _CLONE), (ret, 0, 0, _ALLOW)]
    labels = {"clone": len(program)}
    program += [(ld_abs, 0, 0, 16), (jset, "deny", 0, _NEW_NAMESPACES), (ret, 0, 0, _ALLOW)]
    labels["deny"] = len(program)
    program += [(ret, 0, 0, _ERRNO | _EPERM)]
    labels["enosys"] = len(program)
    program += [(ret, 0, 0, _ERRNO | _ENOSYS)]
    code = b""
    for i, instruction in enumerate(program):
        if instruction == ("deny",):
            instruction = (ret, 0, 0, _ERRNO | _EPERM)
        op, jt, jf, k = instruction
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        code += struct.pack("<HBBI", op, jt, jf, k)
    return code, ""
