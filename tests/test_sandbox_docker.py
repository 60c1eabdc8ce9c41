"""The Docker sandbox backend: its settings, its stream protocol, and container cleanup.

The first half needs no engine (seccomp profile, uids, frame demultiplexing, error
messages, the Dockerfile's pinned base). The second half inspects real containers and
skips, naming the failed step, only when no engine answers or the image cannot be built.
The attacks themselves run in tests/test_sandbox_hostile.py for every backend.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostile.backends import unavailable_reason
from repro.sandbox import SandboxUnavailable, open_sandbox
from repro.sandbox import base as sandbox_base
from repro.sandbox import docker_backend as db
from repro.sandbox.bubblewrap import slot_uid as bubblewrap_slot_uid

ROOT = Path(__file__).resolve().parents[1]


# ---- without an engine -----------------------------------------------------------------
def test_seccomp_profile_denies_what_the_bubblewrap_filter_denies():
    from repro.sandbox.seccomp_policy import DENIED_SYSCALLS
    profile = db.seccomp_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    denied = {name for rule in profile["syscalls"] if "args" not in rule
              and rule["errnoRet"] == 1 for name in rule["names"]}
    assert set(DENIED_SYSCALLS) <= denied and {"ptrace", "unshare", "setns", "bpf"} <= denied
    socket_rule = next(r for r in profile["syscalls"] if r["names"] == ["socket"])
    assert socket_rule["args"] == [{"index": 0, "value": socket.AF_UNIX, "valueTwo": 0,
                                    "op": "SCMP_CMP_NE"}]
    clone_flags = {r["args"][0]["value"] for r in profile["syscalls"] if r["names"] == ["clone"]}
    assert 0x10000000 in clone_flags and 0x20000000 in clone_flags  # NEWUSER, NEWPID
    clone3 = next(r for r in profile["syscalls"] if r["names"] == ["clone3"])
    assert clone3["errnoRet"] == 38  # ENOSYS: the C library falls back to clone
    json.dumps(profile)  # what the engine receives


def test_slot_uids_are_unique_unprivileged_and_apart_from_bubblewrap():
    uids = {db.slot_uid(instance, slot) for instance in range(3) for slot in range(db.MAX_SLOTS)}
    assert len(uids) == 3 * db.MAX_SLOTS and min(uids) >= db.UID_BASE
    bubblewrap = {bubblewrap_slot_uid(i, s) for i in range(50) for s in range(db.MAX_SLOTS)}
    assert not uids & bubblewrap


def test_worker_capabilities_are_the_documented_four():
    assert set(db.WORKER_CAPABILITIES) == {"SETUID", "SETGID", "KILL", "DAC_OVERRIDE"}
    assert all(why for why in db.WORKER_CAPABILITIES.values())


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


class _Attach:
    def __init__(self, sock):
        self._sock = sock


def test_attach_stream_frames_are_demultiplexed_with_deadlines():
    host, engine = socket.socketpair()
    worker = db.ContainerWorker(container=None, attach_socket=_Attach(host), name="t")
    assert worker.read_some(0.05) is None  # nothing yet: too late, not end of stream
    data = frame(2, b"warning\n") + frame(1, b'{"ready": true}\n') + frame(1, b"abc")
    engine.sendall(data[:5])  # a header cut in two
    assert worker.read_some(0.05) is None
    engine.sendall(data[5:])
    assert worker.read_some(1.0) == b'{"ready": true}\nabc'
    assert worker.stderr_tail == b"warning\n"
    worker.write(b"ping\n")
    assert engine.recv(100) == b"ping\n"
    engine.sendall(frame(1, b"x" * 70_000)[:40_000])
    assert worker.read_some(0.05) is None  # an incomplete frame is held back
    engine.sendall(frame(1, b"x" * 70_000)[40_000:])
    assert worker.read_some(1.0) == b"x" * 70_000
    engine.close()
    assert worker.read_some(1.0) == b""  # end of stream: the worker is gone
    assert "warning" in worker.describe_failure()
    host.close()


def test_no_engine_says_how_to_start_one(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with pytest.raises(SandboxUnavailable, match=r"no Docker engine answers.*engine\.sh start"):
        open_sandbox("docker", slots=1)


def test_auto_without_docker_falls_back_and_says_why(monkeypatch, tmp_path):
    if unavailable_reason("bubblewrap"):
        pytest.skip(f"bubblewrap backend unavailable here: {unavailable_reason('bubblewrap')}")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with open_sandbox("auto", slots=1) as sb:
        info = sb.info()
    assert info["backend"] == "bubblewrap"
    assert info["selection"].startswith("auto: bubblewrap, because docker: no Docker engine")


def test_dockerfile_base_is_pinned_by_digest_and_overridable():
    text = (ROOT / "docker" / "sandbox" / "Dockerfile").read_text()
    pinned = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.M)
    assert pinned and re.fullmatch(r"debian:bookworm-slim@sha256:[0-9a-f]{64}", pinned.group(1))
    assert "FROM ${BASE_IMAGE}" in text and re.search(r"^USER 10001", text, re.M)


def test_engine_script_rejects_unknown_commands():
    done = subprocess.run(["bash", str(ROOT / "docker" / "engine.sh"), "nonsense"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr


# ---- with an engine --------------------------------------------------------------------
@pytest.fixture(scope="module")
def docker_ready():
    reason = unavailable_reason("docker")
    if reason:
        pytest.skip(f"docker backend unavailable here: {reason}")


@pytest.fixture(scope="module")
def client(docker_ready):
    client, _, _ = db.connect()
    yield client
    client.close()


def containers_named(client, prefix: str) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"name": prefix})]


def test_containers_are_hardened_as_documented(client):
    with open_sandbox("docker", slots=2) as sb:
        info = sb.info()
        names = info["containers"]
        assert [re.fullmatch(rf"repro-sandbox-{os.getpid()}-\d+-{i}", n) is not None
                for i, n in enumerate(names)] == [True, True]
        host = client.containers.get(names[0]).attrs["HostConfig"]
        answers = [sb.run("import os\nprint(os.getuid(), os.getgid(), os.getgroups(), "
                          "open('/proc/self/status').read().split('CapEff:')[1].split()[0])")
                   for _ in range(2)]
    assert host["NetworkMode"] == "none" and host["IpcMode"] == "none"
    assert host["ReadonlyRootfs"] is True and host["Init"] is True
    assert host["AutoRemove"] is True and host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and set(host["CapAdd"]) == set(db.WORKER_CAPABILITIES)
    assert "no-new-privileges" in host["SecurityOpt"]
    assert any(opt.startswith("seccomp=") and '"ptrace"' in opt for opt in host["SecurityOpt"])
    assert host["Memory"] == host["MemorySwap"] > sb.limits["memory_bytes"]
    assert host["PidsLimit"] == sb.limits["processes"] + 16 and host["NanoCpus"] == 10 ** 9
    assert list(host["Tmpfs"]) == ["/work"]
    assert [b.split(":")[1:] for b in host["Binds"]] == [["/opt/sandbox", "ro"]]
    assert not any("docker.sock" in b for b in host["Binds"])
    children = [a["stdout"].split() for a in answers]
    uids = {int(c[0]) for c in children}
    assert len(uids) == 2 and min(uids) >= db.UID_BASE, "one unprivileged uid per slot"
    assert all(c[0] == c[1] and c[2] == "[]" and c[3] == "0000000000000000" for c in children)
    assert info["backend"] == "docker" and info["selection"] == "docker: requested by name"
    assert info["worker_python"] and info["image_id"].startswith("sha256:")
    assert containers_named(client, f"repro-sandbox-{os.getpid()}-") == [], "close removes them"


def test_auto_prefers_docker(docker_ready):
    with open_sandbox("auto", slots=1) as sb:
        info = sb.info()
        answer = sb.run("print(int(input()) * 2)", "21\n")
    assert info["backend"] == "docker" and info["selection"].startswith("auto: docker")
    assert answer["stdout"] == "42\n"


def test_runs_are_isolated_and_deterministic(docker_ready):
    program = ("import os\nopen('state', 'a').write('x')\n"
               "print(len(open('state').read()), hash('abc'), os.getuid() != 0)")
    with open_sandbox("docker", slots=2) as sb:
        outputs = {sb.run(program)["stdout"] for _ in range(4)}
        timed = sb.run("while True: pass", timeout=0.5)
        failed = sb.run("raise SystemExit(5)")
    with open_sandbox("bubblewrap" if not unavailable_reason("bubblewrap") else "docker",
                      slots=1) as other:
        same_hash = other.run(program)["stdout"]
    assert len(outputs) == 1 and outputs == {same_hash} and same_hash.endswith(" True\n")
    assert timed["status"] == "timeout" and failed["exit_code"] == 5


def test_hung_worker_is_removed_and_replaced(client, monkeypatch):
    monkeypatch.setattr(sandbox_base, "HOST_GRACE_SECONDS", 1.0)
    with open_sandbox("docker", slots=1) as sb:
        first = sb.info()["containers"][0]
        hung = client.containers.get(first)
        hung.pause()  # the worker stops answering
        lost = sb.run("print(1)", timeout=0.5)
        assert lost["status"] == "sandbox-failure"
        # Replaced at once, under the slot's name, by a new container.
        assert hung.id not in [c.id for c in client.containers.list(all=True)], \
            "a hung worker's container stays"
        again = sb.run("print(2)")
        assert again["stdout"] == "2\n" and sb.info()["restarts"] == 1


def test_crashed_worker_is_replaced(client):
    with open_sandbox("docker", slots=1) as sb:
        name = sb.info()["containers"][0]
        client.containers.get(name).kill()
        lost = sb.run("print(1)")
        again = sb.run("print(3)")
        assert lost["status"] == "sandbox-failure" and again["stdout"] == "3\n"
    assert containers_named(client, name) == []


OWNER = """
import sys, time
sys.path.insert(0, {root!r})
from repro.sandbox import open_sandbox
sb = open_sandbox("docker", slots=2)
print(" ".join(sb.info()["containers"]), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_containers_go_when_their_owner_is_killed(client, how):
    owner = subprocess.Popen([sys.executable, "-c", OWNER.format(root=str(ROOT))],
                             stdout=subprocess.PIPE, text=True)
    try:
        names = owner.stdout.readline().split()
        assert len(names) == 2 and all(containers_named(client, n) for n in names)
        owner.send_signal(how)
        owner.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(containers_named(client, n) for n in names) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(containers_named(client, n) for n in names), f"left after {how.name}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_orphans_of_dead_owners_are_removed_and_others_kept(client):
    dead = subprocess.Popen(["true"])
    dead.wait()
    made = []
    for pid in (dead.pid, os.getpid()):
        made.append(client.containers.create(
            db.IMAGE, ["sleep", "60"], name=f"repro-sandbox-test-orphan-{pid}",
            network_mode="none", labels={db.LABEL: "1", f"{db.LABEL}.pid": str(pid),
                                         f"{db.LABEL}.host": socket.gethostname()}))
    try:
        removed = db.remove_orphaned_containers(client)
        assert f"repro-sandbox-test-orphan-{dead.pid}" in removed
        assert f"repro-sandbox-test-orphan-{os.getpid()}" not in removed
        assert containers_named(client, f"repro-sandbox-test-orphan-{os.getpid()}")
    finally:
        for container in made:
            db.remove_container(container)
