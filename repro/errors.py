"""User-facing errors: each names the file, the field and the fix; the CLI exits 2."""
from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (manifest, data, flags). The CLI prints it and exits 2."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, run: str | None = None,
                 field: str | None = None, expected: str | None = None, fix: str | None = None):
        self.file, self.run, self.field, self.expected, self.fix = file, run, field, expected, fix
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.run:
            where.append(f"run '{self.run}'")
        if self.field:
            where.append(f"field '{self.field}'")
        head = f"error: {self.message}"
        if where:
            head += f" ({', '.join(where)})"
        lines = [head]
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class ManifestError(UserError):
    """A manifest fails validation."""


class VerificationError(Exception):
    """A results directory does not match its checksums. The CLI exits 1."""

    exit_code = 1
