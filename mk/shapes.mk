# Real shapes on the CPU and the GPU check (docs/ARCHITECTURES.md).
#
#   make arch-check       trainable parameters of every (model, method) at full size, meta device
#   make test-shapes      every tuning method on every paper architecture at real width (CPU)

.PHONY: arch-check test-shapes

arch-check: $(STAMP)
	$(PY) -m repro arch-check -m manifests/paper

test-shapes: $(STAMP)
	$(PY) -m pytest -q -s -p no:cacheprovider --durations=10 tests_shapes
