"""Every tuning method on every paper architecture at real width, on the CPU (`make test-shapes`).

The three small paper models at full size (12 to 24 layers: every method's behaviour across
layers); each large family at 1 layer with full width and vocabulary (CodeGen2-7B for CodeGen2,
CodeLlama 7B/13B/34B, 34B with grouped-query attention): its module names, widths, GQA and
quantization are per layer, and `repro arch-check` counts the full-depth parameters.
Random weights: the test proves module names, target modules, prompt-tuning initialisation
text, prefix tuning with GQA, quantization (bitsandbytes' CPU backend), save/reload and beam
search on the real shapes, not quality. Each case: 2 Trainer steps that update the adapter (or
the weights), save, reload to the same logits, beam search 2/2.
"""
import gc
import shutil

import pytest

from repro.arch import adapted_on_meta, count_parameters, init_text_tokenizer
from repro.shapes import shape_base, shape_check

SMALL = ["codet5p-220m", "codet5p-770m", "codegen-350m-mono"]
LARGE = ["codegen2-7b", "codellama-7b", "codellama-13b-python", "codellama-34b-python"]
PEFT = ["lora", "ia3", "prompt-tuning", "prefix-tuning", "qlora-8bit", "qlora-4bit"]
LAYERS = {k: 1 for k in LARGE}
# `make test-shapes` runs two single-thread workers (pytest-xdist, `--dist loadscope`): each
# class below goes whole to one worker, in its order, so a base is built once. The two take
# about the same time (docs/ARCHITECTURES.md). (`--dist loadgroup` with `xdist_group` marks
# would say the same, but under pytest 9.2 it silently stops grouping: pytest-xdist issue 1386.)
FIRST_WORKER = ["codet5p-220m", "codet5p-770m", "codegen-350m-mono", "codellama-7b"]
SECOND_WORKER = ["codegen2-7b", "codellama-13b-python", "codellama-34b-python"]


def cases(keys):
    """Every method on each model: full fine-tuning only on the small ones (as in the paper)."""
    return [(k, m) for k in keys for m in (["full-ft", *PEFT] if k in SMALL else PEFT)]


_bases: dict = {}


@pytest.fixture
def base(request, tmp_path_factory):
    """One saved random-weight base at a time (the previous one is deleted: they are GBs)."""
    key = request.node.callspec.params["key"]
    if key not in _bases:
        for old in list(_bases):
            shutil.rmtree(_bases.pop(old), ignore_errors=True)
        _bases[key] = shape_base(key, LAYERS.get(key), tmp_path_factory.mktemp(key))
    return _bases[key]


class TestFirstWorker:
    @pytest.mark.parametrize("key, method", cases(FIRST_WORKER))
    def test_method_on_real_shapes(self, key, method, base, tmp_path, record_property):
        check_method_on_real_shapes(key, method, base, tmp_path, record_property)


class TestSecondWorker:
    @pytest.mark.parametrize("key, method", cases(SECOND_WORKER))
    def test_method_on_real_shapes(self, key, method, base, tmp_path, record_property):
        check_method_on_real_shapes(key, method, base, tmp_path, record_property)


def test_the_two_workers_cover_every_model_once():
    assert sorted(FIRST_WORKER + SECOND_WORKER) == sorted(SMALL + LARGE)


def check_method_on_real_shapes(key, method, base, tmp_path, record_property):
    gc.collect()   # the previous case's models (reference cycles) go before this one loads
    result = shape_check(key, method, base, tmp_path)
    # Shown by conftest.py as each case ends (also under pytest-xdist, whose workers' prints are lost).
    record_property("summary", f"{key} {method}: {result['trainable']:,} trainable, loss {result['train_loss']}, "
                               f"{result['precision']}, seconds {result['seconds']}")
    assert result["steps"] == 2 and result["updated"], result
    assert result["reload_max_abs_diff"] < 1e-3, result
    assert len(result["candidates"]) == 2 and all(len(c) == 2 for c in result["candidates"])
    if method != "full-ft" and key not in LAYERS:
        # Same count as the meta-device build at full size (repro arch-check).
        cfg = {"method": method, "num_virtual_tokens": 10 if method == "prefix-tuning" else 20,
               "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "bias": "none", "target_modules": None},
               "ia3": {"target_modules": None, "feedforward_modules": None}, "prompt_init": "text",
               "quantization": {"bits": 8 if method == "qlora-8bit" else 4, "quant_type": "nf4",
                                "double_quant": True, "compute_dtype": "float16"}}
        expected = count_parameters(adapted_on_meta(key, method, cfg, init_text_tokenizer(tmp_path / "tok")))[0]
        assert result["trainable"] == expected
