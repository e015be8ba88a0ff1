"""The student's side of the boundary: an unprivileged user, a folder of its own, and an end.

Code runs as that user with no access to the autograder's source, the seed or the results.
When the phase is over, every process of the user is killed, whatever it forked or detached,
so nothing the student started can run on while the verdict is made.
"""

import os
import pwd
import resource
import shutil
import signal
import subprocess
import time


def ensure_user(name):
    """(uid, gid) of the sandbox user, created without a home or a login shell if it is missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise RuntimeError(f"the sandbox user {name} must not be root")
    return entry.pw_uid, entry.pw_gid


def processes_of(uid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def kill_all(uid, rounds=50):
    """SIGKILLs every process of ``uid`` until none is left; returns how many were killed."""
    killed = 0
    for _ in range(rounds):
        pids = processes_of(uid)
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"processes of uid {uid} survive: {processes_of(uid)}")


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def run_as(uid, gid, argv, env, cwd, timeout, log_path):
    """Runs argv as uid:gid in its own session; returns (exit code or None on time-out, seconds)."""
    started = time.monotonic()

    def demote():  # runs after the switch to the user: no imports here (the stdlib may be unreadable to it)
        os.setsid()
        if uid is not None:  # a fork bomb cannot starve the grader: the sandbox user has a cap on its processes
            resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))

    with open(log_path, "wb") as log:
        kwargs = {}
        if uid is not None:
            kwargs = dict(user=uid, group=gid, extra_groups=[])
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=demote, umask=0o077, **kwargs)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
    return code, time.monotonic() - started


def remove_files_of(uid, folders=("/tmp", "/var/tmp", "/dev/shm")):
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


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
