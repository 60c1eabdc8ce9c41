"""The fork server that runs INSIDE a sandbox: one long-lived process per slot.

It reads one JSON request per line from its stdin and answers one JSON line on its
stdout (one per test, then an end line, for a batch). Each test runs in a fresh forked
child (so a program never sees another's state) with rlimits, a private work directory (also its HOME and TMPDIR) and, where the
worker may, a different uid. After every child the worker kills whatever the child left
behind, reaps it and wipes the whole work tmpfs. The worker itself is not dumpable and
ignores every catchable signal.

A request names a command, files, stdin, a payload, a timeout and limits; the answer is
the raw outcome: what the worker observes itself (exit status or signal, time, stdout,
stderr tail) and what was written on the result channel, descriptor 3, which the program
can reach too (the host treats it as program output).

A batch request (`tests`: a list of {stdin, payload}) runs the same command once per
test, each in its own fresh child and freshly wiped work directory with the files written
anew, exactly as separate requests would; it answers one line per test as the test ends,
then `{"batch_end": true}`. It only saves the host a round trip per test. `budget`
(seconds) caps the sum of the tests' times: no test starts once it is spent, and each gets
at most what is left of it. `compile` (a source) is compiled by the first test's child
after it dropped its privileges and took its limits, before the command runs; the child
reports on a private descriptor that it closes before any program code runs (so nothing a
program does can change the report), and if the source does not compile the command does
not run: the first test's line carries `compile`: {ok, error} and the batch ends there.

Commands:
- `["python", FILE]`: FILE (one of the request's files) runs as `__main__` in the child;
- `["call", "MODULE:FUNCTION"]`: FUNCTION(payload) of a module the sandbox was given runs
  in the child; its return value is written as JSON on the result channel.
The worker judges nothing: what an outcome means is decided by the host.

Standard library only: this file runs under the sandbox's own interpreter
(`/usr/bin/python3 -I -S` or the container's python), never the host virtualenv.
"""
import json
import os
import resource
import select
import shutil
import signal
import sys
import time

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
STDERR_TAIL = 2000
# Every signal a process may catch or ignore: the worker ignores them all (a program that
# could reach it at all could not end it with one); each child restores the defaults.
IGNORED_SIGNALS = tuple(getattr(signal, name) for name in (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM",
    "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF"))


def prctl(option, value):
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except Exception:  # pragma: no cover - reported through info() as False
        return False


def harden_worker():
    """Orphans of a test re-parent to the worker, which reaps them (no zombie build-up);
    the worker is not dumpable (its /proc/<pid>/mem, environ, fds stay closed to programs
    even of its own uid) and ignores every catchable signal."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    dumpable_off = prctl(PR_SET_DUMPABLE, 0)
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    return {"non_dumpable": dumpable_off, "signals_ignored": len(IGNORED_SIGNALS)}


def restore_child_signals():
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter


class Worker:
    def __init__(self, config):
        self.config = config
        self.workroot = config["workdir"]
        self.kill_all = config.get("kill_all", False)
        self.child_uid = config.get("child_uid")
        self.child_gid = config.get("child_gid", self.child_uid)
        self.counter = 0
        # The protocol lives on private descriptors; 0/1/2 point at /dev/null so that
        # nothing a child inherits can reach the host.
        self.proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
        self.proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):
            os.dup2(devnull, fd)
        os.close(devnull)
        os.set_inheritable(self.proto_in.fileno(), False)
        os.set_inheritable(self.proto_out.fileno(), False)
        self.reader = self.proto_in

    # ---- protocol -------------------------------------------------------------------
    def send(self, obj):
        self.proto_out.write((json.dumps(obj) + "\n").encode("utf-8"))

    def serve(self):
        hardening = harden_worker()
        for path in self.config.get("python_path", []):
            if path not in sys.path:
                sys.path.append(path)
        os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                           "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"})
        import site  # -S skipped it: add exit/quit/help as a normal interpreter has them
        site.setquit()
        site.setcopyright()
        site.sethelper()
        import pyscript  # noqa: F401 - the runner of `python` commands, warm in every child
        versions = {"python": sys.version.split()[0], "uid": os.getuid(), "pid": os.getpid(),
                    "child_uid": self.child_uid if os.getuid() == 0 else os.getuid(),
                    "modules": preload(self.config.get("preload", [])), **hardening}
        self.send({"ready": True, **versions})
        while True:
            line = self.proto_in.readline()
            if not line:
                return
            request = json.loads(line)
            if request.get("op") == "ping":
                self.send({"ok": True})
                continue
            try:
                self.send(self.execute(request))
            except Exception as exc:  # a worker bug must not look like a verdict
                self.send({"status": "worker-error", "error": repr(exc)})

    # ---- one request ---------------------------------------------------------------
    def execute(self, request):
        command = request["command"]
        if not (isinstance(command, list) and len(command) == 2 and command[0] in ("python", "call")):
            raise ValueError("unknown command %r" % (command,))
        timeout = float(request.get("timeout", 4.0))
        if "tests" not in request:
            return self.run_test(request, request.get("stdin", ""), request.get("payload"), timeout)
        budget = request.get("budget")
        spent, compile_source = 0.0, request.get("compile")
        for test in request["tests"]:
            if budget is not None and spent >= budget:
                break
            limit = timeout if budget is None else min(timeout, budget - spent)
            try:
                outcome = self.run_test(request, test.get("stdin", ""), test.get("payload"),
                                        limit, compile_source)
            except Exception as exc:  # a worker bug must not look like a verdict
                outcome = {"status": "worker-error", "error": repr(exc), "time": 0.0}
            self.send(outcome)  # one line per test as it ends: a lost worker loses one test
            spent += outcome["time"]
            if compile_source is not None:
                compile_source = None
                if outcome.get("compile", {}).get("ok") is not True:
                    break
        return {"batch_end": True}

    def run_test(self, request, stdin, payload, timeout, compile_source=None):
        """One test in a fresh child: its raw outcome (and the compile report if asked)."""
        limits = request.get("limits", {})
        self.counter += 1
        workdir = os.path.join(self.workroot, "t%d" % self.counter)
        wipe_contents(self.workroot)  # nothing of an earlier program is left anywhere
        os.mkdir(workdir, 0o777)
        os.chmod(workdir, 0o777)
        stdin_fd = os.memfd_create("stdin")
        os.write(stdin_fd, stdin.encode("utf-8"))
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        out_fd = os.memfd_create("stdout")
        err_fd = os.memfd_create("stderr")
        res_fd = os.memfd_create("result")
        report_fd = os.memfd_create("compile") if compile_source is not None else None
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # child: never returns
            self.child(request["command"], request.get("files", {}), payload, workdir, limits,
                       timeout, (stdin_fd, out_fd, err_fd, res_fd), compile_source, report_fd)
        status, timed_out = self.wait_child(pid, timeout)
        elapsed = time.monotonic() - start
        self.cleanup(pid, workdir)
        answer = {"status": "timeout" if timed_out else "exited", "time": elapsed}
        if os.WIFSIGNALED(status):
            answer["signal"] = os.WTERMSIG(status)
            answer["exit_code"] = None
        else:
            answer["exit_code"] = os.WEXITSTATUS(status)
        if timed_out:
            answer["exit_code"] = None
        keep = int(request.get("return_stdout", 65536))
        answer["stdout"], answer["stdout_bytes"] = read_memfd(out_fd, keep)
        answer["stderr"] = read_memfd_tail(err_fd, STDERR_TAIL)
        result_text, _ = read_memfd(res_fd, 1 << 26)
        answer["result"] = parse_result(result_text)
        for fd in (stdin_fd, out_fd, err_fd, res_fd):
            os.close(fd)
        if report_fd is not None:
            report, _ = read_memfd(report_fd, 1 << 16)
            os.close(report_fd)
            answer["compile"] = parse_result(report) or {"ok": False, "error": None}
        return answer

    def wait_child(self, pid, timeout):
        pidfd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)
        timed_out = not ready
        if timed_out:
            self.kill_tree(pid)
        _, status = os.waitpid(pid, 0)
        return status, timed_out

    def kill_tree(self, pid):
        try:
            if self.kill_all:
                # The worker is alone in its PID namespace with its tests: -1 reaches
                # every process but the worker itself and the namespace's init.
                os.kill(-1, signal.SIGKILL)
            else:
                os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def cleanup(self, pid, workdir):
        """Kill background processes the test left, reap them, wipe the work dir."""
        self.kill_tree(pid)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if reaped == 0:
                time.sleep(0.002)
        wipe_contents(self.workroot)

    # ---- the child -----------------------------------------------------------------
    def child(self, command, files, payload, workdir, limits, timeout, std_fds,
              compile_source, report_fd):
        code = 70
        try:
            os.setsid()
            for target, fd in enumerate(std_fds):  # stdin, stdout, stderr, result channel
                os.dup2(fd, target)
            if report_fd is not None:
                os.dup2(report_fd, 4)
            os.closerange(5 if report_fd is not None else 4, 65536)
            restore_child_signals()
            os.environ["HOME"] = os.environ["TMPDIR"] = workdir
            os.chdir(workdir)
            if self.child_uid is not None and os.getuid() == 0:
                os.setgroups([])
                os.setgid(self.child_gid)
                os.setuid(self.child_uid)
            write_files(files)
            apply_limits(limits, timeout)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            if report_fd is not None and not report_compiles(compile_source, 4):
                os._exit(0)
            code = run_command(command, payload, result_fd=3)
        except BaseException:
            try:
                import traceback
                os.write(2, traceback.format_exc().encode("utf-8", "replace"))
            except BaseException:
                pass
        os._exit(code)


def report_compiles(source, report_fd):
    """Compile `source` as the program's child, write {ok, error} on `report_fd` and close
    it before any program code can run (so nothing the program does can change the report)."""
    import pyscript
    report = pyscript.compile_check(source)
    data = json.dumps(report).encode("utf-8")
    while data:
        data = data[os.write(report_fd, data):]
    os.close(report_fd)
    return report["ok"]


def preload(names):
    """Import the modules programs expect warm (fork keeps them): name -> version, or None
    when the sandbox's interpreter lacks it."""
    versions = {}
    for name in names:
        try:
            module = __import__(name)
        except ImportError:
            versions[name] = None
            continue
        versions[name] = str(getattr(module, "__version__", ""))
    return versions


def write_files(files):
    """The request's files, written into the child's work directory (relative names only)."""
    for name, text in files.items():
        parts = name.split("/")
        if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError("file name %r leaves the work directory" % name)
        if len(parts) > 1:
            os.makedirs(os.path.join(*parts[:-1]), exist_ok=True)
        with open(name, "w", encoding="utf-8", errors="surrogatepass", newline="") as fh:
            fh.write(text)


def run_command(command, payload, result_fd):
    """Run the command in this (child) process; returns its exit status."""
    kind, target = command
    if kind == "python":
        import pyscript
        with open(target, encoding="utf-8", errors="surrogatepass", newline="") as fh:
            return pyscript.run_script(fh.read())
    module_name, function_name = target.split(":")
    result = getattr(__import__(module_name), function_name)(payload)
    data = json.dumps(result, default=repr).encode("utf-8")
    while data:
        data = data[os.write(result_fd, data):]
    return 0


def apply_limits(limits, timeout):
    cpu = int(limits.get("cpu_seconds", timeout + 1)) + 1
    memory = int(limits.get("memory_bytes", 1 << 30))
    table = [
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, int(limits.get("file_bytes", 32 << 20))),
        (resource.RLIMIT_NPROC, int(limits.get("processes", 64))),
        (resource.RLIMIT_NOFILE, int(limits.get("open_files", 256))),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in table:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(which)
            capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (capped, capped))


def read_memfd(fd, limit):
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, min(size, limit)) if size else b""
    return data.decode("utf-8", "replace"), size


def read_memfd_tail(fd, limit):
    size = os.fstat(fd).st_size
    os.lseek(fd, max(0, size - limit), os.SEEK_SET)
    return os.read(fd, limit).decode("utf-8", "replace") if size else ""


def parse_result(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"unparsable": text[:200]}


def wipe_contents(root):
    """Remove everything inside `root` (the work tmpfs), whoever made it."""
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            remove_tree(path)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def remove_tree(path):
    def make_writable_and_retry(func, target, _exc):
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass
    shutil.rmtree(path, onerror=make_writable_and_retry)


def main():
    config = json.loads(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    with open(os.path.join(here, "setup.json"), encoding="utf-8") as fh:
        config.update(json.load(fh))  # what the host's Sandbox was given (modules to preload)
    os.makedirs(config["workdir"], exist_ok=True)
    Worker(config).serve()


if __name__ == "__main__":
    main()
