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
        def __init__(self):
            self.seen = prompt_length
            self.level = None

        def __call__(self, input_ids, scores, **kwargs):
            if self.level is None:
                self.level = torch.full((input_ids.shape[0],), start, dtype=torch.long)
            new = input_ids[:, self.seen:].cpu()
            self.seen = input_ids.shape[1]
            self.level += deltas[new.clamp(max=len(deltas) - 1)].sum(dim=1)
            return (self.level <= 0).to(input_ids.device)

    return BalancedBraces()
