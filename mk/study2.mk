# The unit-test study (docs/STUDY2.md).
.PHONY: paper2-manifests paper2-manifests-check plan-paper2 report-paper2 java-deps test-study2

paper2-manifests: $(STAMP)
	$(PY) tools/make_paper2_manifests.py

paper2-manifests-check: $(STAMP)
	$(PY) tools/make_paper2_manifests.py --check

plan-paper2: $(STAMP)
	$(PY) -m repro plan --manifest manifests/paper2 --quiet

report-paper2: $(STAMP)
	$(PY) -m repro report --manifest manifests/paper2 --results results/paper2

java-deps:
	bash .ci/install-java.sh

test-study2: $(STAMP)
	$(PY) -m pytest -q tests/test_study2.py tests/test_study2_sandbox.py
