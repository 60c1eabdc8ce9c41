"""peft-code-repro: re-run, check and extend the PEFT-for-code-generation study.

Pipeline stages, one module each (see docs/ARCHITECTURE.md): manifest -> data -> prompts
-> tuning -> generate -> metrics -> compare -> report, with records for run outputs.
"""
__version__ = "0.1.0"
