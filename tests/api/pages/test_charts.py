"""The inline SVG charts: well-formed, named and described, proportional, escaped, Italian numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from api.pages.charts import BAR_AREA, LABEL_WIDTH, MAX_LABEL, Bar, Series, bar_chart, number, stacked_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # fails on anything that is not well-formed XML


def rects(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def test_bar_chart_is_named_described_and_proportional() -> None:
    root = parse(bar_chart("g1", "Pratiche per fase", "Numero di pratiche", [Bar("Bozza", 2), Bar("Presentata", 8)]))
    assert root.get("role") == "img" and root.get("aria-labelledby") == "g1-t g1-d"
    assert root.find(f"{SVG}title").text == "Pratiche per fase"  # type: ignore[union-attr]
    assert root.find(f"{SVG}title").get("id") == "g1-t"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "Numero di pratiche"  # type: ignore[union-attr]
    bars = rects(root)
    assert [float(r.get("width", "")) for r in bars] == [BAR_AREA / 4, BAR_AREA]
    assert all(float(r.get("x", "")) == LABEL_WIDTH for r in bars)
    assert [r.find(f"{SVG}title").text for r in bars] == ["Bozza: 2", "Presentata: 8"]  # type: ignore[union-attr]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["Bozza", "2", "Presentata", "8"]


def test_all_zero_and_empty() -> None:
    zero = parse(bar_chart("g", "T", "D", [Bar("Bozza", 0)]))
    assert [float(r.get("width", "")) for r in rects(zero)] == [0.0]
    empty = parse(bar_chart("g", "T", "D", []))
    assert [t.text for t in empty.iter(f"{SVG}text")] == ["Nessun dato da rappresentare."]
    assert [t.text for t in parse(stacked_chart("s", "T", "D", [], [])).iter(f"{SVG}text")] == [
        "Nessun dato da rappresentare."
    ]


def test_text_is_escaped_and_long_labels_shortened() -> None:
    label = 'Distretto <A> & "figli" ' + "x" * 60
    markup = bar_chart('g"1', "Titolo <b>", "desc & più", [Bar(label, 3, "3 <gg>")])
    assert "<b>" not in markup and "<A>" not in markup
    root = parse(markup)
    assert root.find(f"{SVG}title").text == "Titolo <b>"  # type: ignore[union-attr]
    shown = next(root.iter(f"{SVG}text")).text or ""
    assert len(shown) == MAX_LABEL and shown.endswith("…") and shown.startswith("Distretto <A> &")
    assert rects(root)[0].find(f"{SVG}title").text == f"{label}: 3 <gg>"  # type: ignore[union-attr]


def test_stacked_chart_segments_legend_and_totals() -> None:
    series = [Series("Nei termini", "#00663a"), Series("Oltre il termine", "#a61919")]
    root = parse(stacked_chart("t", "Tempi", "Per anno", [("2025", [3, 1]), ("2026", [0, 2])], series))
    segments = rects(root)
    assert [s.find(f"{SVG}title").text for s in segments] == [  # type: ignore[union-attr]
        "2025 – Nei termini: 3",
        "2025 – Oltre il termine: 1",
        "2026 – Oltre il termine: 2",  # a zero segment is not drawn
    ]
    widths = [float(s.get("width", "")) for s in segments]
    assert widths == [BAR_AREA * 3 / 4, BAR_AREA / 4, BAR_AREA / 2]
    assert float(segments[1].get("x", "")) == LABEL_WIDTH + BAR_AREA * 3 / 4  # stacked after the first
    assert [s.get("fill") for s in segments] == ["#00663a", "#a61919", "#a61919"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[:2] == ["Nei termini", "Oltre il termine"]  # the legend names each colour
    assert texts[2:] == ["2025", "4", "2026", "2"]  # each bar's total


def test_legend_wraps_when_too_wide() -> None:
    series = [Series(f"Una categoria dal nome piuttosto lungo n. {i}", "#0066cc") for i in range(4)]
    root = parse(stacked_chart("w", "T", "D", [("2025", [1, 1, 1, 1])], series))
    legend_y = sorted({float(t.get("y", "")) for t in root.iter(f"{SVG}text") if (t.text or "").startswith("Una")})
    assert len(legend_y) > 1


def test_italian_numbers() -> None:
    assert [number(v) for v in (0, 7, 1234, 12.5, 2.26, 1234.5)] == ["0", "7", "1.234", "12,5", "2,3", "1.234,5"]
