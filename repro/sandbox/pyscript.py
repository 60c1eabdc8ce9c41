"""Python programs run INSIDE the sandbox: a source as `python main.py` would run it.

Used by the worker for the command `("python", <file>)` and importable by any program the
sandbox is given (a task's in-sandbox code). Standard library only: this file runs under
the sandbox's own interpreter, never the host virtualenv.
"""
import io
import sys
import types


def short_error(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    return text[:200]


def fresh_main_module():
    module = types.ModuleType("__main__")
    module.__file__ = "main.py"
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    sys.argv = ["main.py"]
    return module


def compile_check(code):
    """{"ok", "error"}: does `code` compile as a module?"""
    try:
        compile(code, "main.py", "exec")
        return {"ok": True, "error": None}
    except BaseException as exc:  # SyntaxError, ValueError (NUL bytes), RecursionError, ...
        return {"ok": False, "error": short_error(exc)}


def reset_std_streams():
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                  line_buffering=False)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def run_script(code):
    """Like `python main.py`: SystemExit sets the status, an exception exits 1."""
    reset_std_streams()
    module = fresh_main_module()
    status = 0
    try:
        exec(compile(code, "main.py", "exec"), module.__dict__)
    except SystemExit as exc:
        status = exit_status(exc)
    except BaseException:
        import traceback
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        status = status or 120  # like the interpreter when flushing stdout fails
    return status


def exit_status(exc):
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1
