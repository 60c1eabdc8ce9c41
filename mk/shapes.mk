# Real shapes on the CPU and the GPU check (docs/ARCHITECTURES.md).
#
#   make arch-check       trainable parameters of every (model, method) at full size, meta device
#   make test-shapes      every tuning method on every paper architecture at real width (CPU)

.PHONY: arch-check test-shapes

arch-check: $(STAMP)
	$(PY) -m repro arch-check -m manifests/paper

# Two single-thread workers, one per core (7.5 minutes where one two-thread process took 10:
# docs/ARCHITECTURES.md); each case prints a summary line as it ends.
test-shapes: $(STAMP)
	REPRO_SHAPES_THREADS=1 $(PY) -m pytest -q -s -p no:cacheprovider -n 2 --dist loadscope --durations=10 tests_shapes
