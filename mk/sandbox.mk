# Sandbox for untrusted APPS programs (docs/SANDBOX.md).
.PHONY: sandbox-deps test-sandbox
sandbox-deps:
	bash .ci/install-sandbox.sh

test-sandbox: $(STAMP) sandbox-deps
	$(PY) -m pytest -q tests/test_sandbox_hostile.py tests/test_apps_exec.py tests/test_sandbox.py
