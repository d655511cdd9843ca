"""What an ETAPP import found, what it could not read, and what it filled in; printed by import-etapp."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SourceStatus:
    """One upstream file (or file family) and what became of it."""

    path: str
    status: str  # found | missing | pickled | unreadable
    target: str  # the tooltune table(s) or object it feeds
    note: str = ""


@dataclass
class ImportReport:
    root: str
    sources: list[SourceStatus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tool_notes: list[str] = field(default_factory=list)
    users: int = 0
    instructions: int = 0
    cases: int = 0

    def add(self, path: str, status: str, target: str, note: str = "") -> None:
        self.sources.append(SourceStatus(path, status, target, note))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def problems(self) -> list[SourceStatus]:
        return [s for s in self.sources if s.status != "found"]

    def text(self) -> str:
        found = sum(s.status == "found" for s in self.sources)
        lines = [f"ETAPP release {self.root}: {self.users} users x {self.instructions} instructions = "
                 f"{self.cases} cases; {found} upstream files read"]
        for source in self.problems():
            lines.append(f"  {source.status.upper():<10} {source.path} -> {source.target}"
                         + (f" ({source.note})" if source.note else ""))
        lines += [f"  tools: {t}" for t in self.tool_notes]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
