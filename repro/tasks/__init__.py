"""Tasks: one folder per benchmark, and the registry the pipeline asks.

`get(name)` returns a task (repro/tasks/base.py `Task`); `task_of(dataset_key)` the task
a dataset entry names; `template(name)`, `stop_rule(name)` and `scorer_path(metric)` find
what some task owns by its name. Built-in tasks are imported on first use (no import-time
side effects); a task outside the package calls `register(TASK)`. Adding a built-in task
is its folder plus one line in `BUILTIN`.
"""
from __future__ import annotations

from importlib import import_module

from .base import Task, Template

BUILTIN = {
    "nl2code": "repro.tasks.nl2code",
    "apps": "repro.tasks.apps",
    "java-tests": "repro.tasks.java_tests",
}
_extra: dict[str, Task] = {}

__all__ = ["Task", "Template", "get", "all_tasks", "register", "task_of", "template", "stop_rule",
           "scorer_path"]


def register(task: Task) -> Task:
    """Make a task defined outside repro/tasks/ known (its datasets too)."""
    from repro.registry import DATASETS

    if task.name in BUILTIN:
        raise ValueError(f"task {task.name!r} is built in")
    _extra[task.name] = task
    DATASETS.update({spec.key: spec for spec in task.datasets})
    return task


def all_tasks() -> dict[str, Task]:
    return {**{name: import_module(module).TASK for name, module in BUILTIN.items()}, **_extra}


def get(name: str) -> Task:
    tasks = all_tasks()
    try:
        return tasks[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(tasks)}") from None


def task_of(dataset_key: str) -> Task:
    from repro.registry import DATASETS

    return get(DATASETS[dataset_key].task)


def _owned(attribute: str) -> dict:
    """name -> thing, over every task's `attribute` (templates, stop_rules, scorers)."""
    out: dict = {}
    for task in all_tasks().values():
        out.update(getattr(task, attribute))
    return out


def template(name: str) -> Template:
    templates = _owned("templates")
    try:
        return templates[name]
    except KeyError:
        raise ValueError(f"unknown prompt template {name!r}; known: {', '.join(templates)}") from None


def stop_rule(name: str):
    rules = _owned("stop_rules")
    try:
        return rules[name]
    except KeyError:
        raise ValueError(f"unknown stop rule {name!r}; known: {', '.join(rules)}") from None


def scorer_path(metric: str) -> str | None:
    return _owned("scorers").get(metric)
