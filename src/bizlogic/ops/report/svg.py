"""Small bar charts as inline SVG: the report is one file, with no script and no fetch."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD, LABEL = 560, 180, 28, 18


def bars(points: list[tuple[str, float | None]], caption: str, value_text: list[str]) -> str:
    """One bar per point (label, value); a point without a value has no bar and says so
    (``value_text``, the written values, is drawn above the bars)."""
    known = [v for _, v in points if v is not None]
    top = max(known) if known and max(known) > 0 else 1.0
    slot = (WIDTH - 2 * PAD) / max(len(points), 1)
    inner = HEIGHT - 2 * PAD - LABEL
    parts = [
        f'<svg class="chart" role="img" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        f"<title>{escape(caption)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD - LABEL}" x2="{WIDTH - PAD}" '
        f'y2="{HEIGHT - PAD - LABEL}" stroke="#888"/>',
    ]
    for index, ((label, value), text) in enumerate(zip(points, value_text, strict=True)):
        x = PAD + index * slot
        height = 0.0 if value is None else inner * max(value, 0.0) / top
        y = HEIGHT - PAD - LABEL - height
        if value is not None:
            parts.append(
                f'<rect x="{x + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{height:.1f}" fill="#3b82f6"/>'
            )
        middle = x + slot / 2
        parts.append(
            f'<text x="{middle:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
            f'font-size="10">{escape(text)}</text>'
        )
        parts.append(
            f'<text x="{middle:.1f}" y="{HEIGHT - PAD:.1f}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
