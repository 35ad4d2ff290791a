"""A small Mermaid flowchart of the touched apps and what each change affects (GitHub renders it).

One subgraph per environment, an app node per touched app, an edge per changed object labelled
with what the change affects and the risk categories it carries. Kept small on purpose: at most
``MAX_OBJECTS_PER_APP`` objects per app (most severe first) and ``MAX_APPS`` apps.
"""

from __future__ import annotations

from collections import defaultdict

from .model import DiffReport, Level, ObjectChange

__all__ = ["mermaid_flowchart", "escape_label", "MAX_APPS", "MAX_OBJECTS_PER_APP"]

MAX_APPS = 10
MAX_OBJECTS_PER_APP = 4
_STYLES = {
    Level.HIGH: "fill:#ffd7d5,stroke:#cf222e",
    Level.MEDIUM: "fill:#ffe8cc,stroke:#bc4c00",
    Level.LOW: "fill:#fff8c5,stroke:#9a6700",
    Level.INFO: "fill:#ddf4ff,stroke:#0969da",
}
#: Short words for what a field row affects, by the end of its label.
_EFFECTS = (("image", "image"), ("cpu request", "cpu"), ("memory request", "memory"), ("nvidia.com/", "GPU"),
            ("GPU product", "GPU"), ("replicas", "scale"), ("schedule", "schedule"), ("suspend", "schedule"),
            ("storage", "volume"), ("volumes", "volume"), ("storage class", "volume"), ("access modes", "volume"), ("volume mode", "volume"))


def escape_label(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for the characters Mermaid parses."""
    text = text.replace("#", "#35;")
    for char, code in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;"), ("`", "#96;"),
                       ("[", "#91;"), ("]", "#93;"), ("{", "#123;"), ("}", "#125;")):
        text = text.replace(char, code)
    return text.replace("\n", " ")


def _effects(change: ObjectChange) -> str:
    """``image, scale · risk: availability``: what the change touches, then the kinds of risk it carries."""
    words: list[str]
    if change.status in ("added", "removed"):
        words = [change.status]
    elif change.status == "unchanged":
        words = ["affected"]
    else:
        words = []
        for row in change.fields:
            label = row.field.split(": ")[-1]
            word = next((effect for key, effect in _EFFECTS if label == key or label.startswith(key)), label)
            if word not in words:
                words.append(word)
        if change.other_paths or (not words and not change.moved_from_app):
            words.append("config")
        if change.moved_from_app:
            words.append(f"moved from {change.moved_from_app}")
    categories = []
    for risk in change.risks:
        if risk.category not in categories:
            categories.append(risk.category)
    return ", ".join(words) + (f" · risk: {', '.join(categories)}" if categories else "")


def mermaid_flowchart(report: DiffReport) -> str:
    """The diagram's source (without the ```mermaid fence); empty when nothing changed."""
    by_app: dict[tuple[str, str], list[ObjectChange]] = defaultdict(list)
    for change in report.changes:
        by_app[(change.environment, change.app)].append(change)
    if not by_app:
        return ""
    apps = sorted(by_app)
    lines = ["flowchart LR"]
    used: set[Level] = set()
    classes: list[str] = []
    counter = 0
    for env_index, environment in enumerate(sorted({env for env, _ in apps[:MAX_APPS]})):
        lines.append(f'  subgraph env{env_index}["{escape_label(environment)}"]')
        for app_index, (env, app) in enumerate(apps[:MAX_APPS]):
            if env != environment:
                continue
            app_id = f"app{app_index}"
            lines.append(f'    {app_id}["{escape_label(app or "(environment)")}"]')
            changes = sorted(by_app[(env, app)], key=lambda change: (-change.highest, change.sort_key()))
            for change in changes[:MAX_OBJECTS_PER_APP]:
                node = f"obj{counter}"
                counter += 1
                label = escape_label(_effects(change))
                lines.append(f'    {app_id} -->|"{label}"| {node}["{escape_label(f"{change.kind} {change.name}")}"]')
                if change.highest is not Level.NONE:
                    used.add(change.highest)
                    classes.append(f"  class {node} {change.highest.label}")
            if len(changes) > MAX_OBJECTS_PER_APP:
                lines.append(f'    {app_id} --> more{app_index}["+{len(changes) - MAX_OBJECTS_PER_APP} more"]')
        lines.append("  end")
    if len(apps) > MAX_APPS:
        lines.append(f'  moreapps["+{len(apps) - MAX_APPS} more apps"]')
    lines += classes
    lines += [f"  classDef {level.label} {_STYLES[level]}" for level in sorted(used, reverse=True)]
    return "\n".join(lines)
