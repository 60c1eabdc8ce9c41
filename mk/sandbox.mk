# Sandbox for untrusted APPS programs (docs/SANDBOX.md).
#   make sandbox-deps     bubblewrap, Debian's python3 + numpy, pyseccomp, docker SDK
#   make docker-engine    a Docker engine answers (starts Debian's dockerd if none does)
#   make sandbox-image    peft-code-repro/sandbox:latest from docker/sandbox/Dockerfile
#                         (from the digest-pinned base, or the local debootstrap base
#                         when no registry can be reached; the output says which)
#   make test-sandbox     the sandbox tests, every backend this machine can run
.PHONY: sandbox-deps docker-engine sandbox-image test-sandbox
sandbox-deps:
	bash .ci/install-sandbox.sh

docker-engine:
	bash docker/engine.sh start

sandbox-image: docker-engine
	bash docker/engine.sh sandbox-image

test-sandbox: $(STAMP) sandbox-deps
	$(PY) -m pytest -q tests/test_sandbox_hostile.py tests/test_apps_exec.py tests/test_sandbox.py tests/test_sandbox_docker.py
