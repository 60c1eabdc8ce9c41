"""The unit-test study's stop rule: generation ends once the braces opened by the prompt close."""
from __future__ import annotations


def brace_deltas(tokenizer) -> list[int]:
    """Per vocabulary id: '{' count minus '}' count of its text."""
    deltas = []
    for token_id in range(len(tokenizer)):
        text = tokenizer.decode([token_id])
        deltas.append(text.count("{") - text.count("}"))
    return deltas


def balanced_braces_stop(tokenizer, prompt_length: int, gen: dict):
    """A transformers StoppingCriteria: a sequence is done when its new tokens bring the brace
    level (starting at `generation.brace_start_level`, default 1: the prompt ends inside an
    open method) to 0 or below. Counts every brace, as the study did (braces inside strings
    or comments count too). Written here because transformers has no brace-matching rule."""
    import torch
    from transformers import StoppingCriteria

    deltas = torch.tensor(brace_deltas(tokenizer))
    start = int(gen.get("brace_start_level", 1))

    class BalancedBraces(StoppingCriteria):
        # No state across steps: beam search reorders rows between steps, so each row's level
        # is recomputed from that row's own generated tokens every time.
        def __call__(self, input_ids, scores, **kwargs):
            new = input_ids[:, prompt_length:].cpu()
            level = start + deltas[new.clamp(max=len(deltas) - 1)].sum(dim=1)
            return (level <= 0).to(input_ids.device)

    return BalancedBraces()
