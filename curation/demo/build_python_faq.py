"""Build curation/demo/data/python_faq.jsonl from the CPython FAQ HTML pages.

Usage: python build_python_faq.py /path/to/html/faq [output.jsonl]

The html/faq folder comes from the Debian python3.X-doc package, e.g.:
    apt-get download python3.11-doc && dpkg-deb -x python3.11-doc_*.deb /tmp/pydoc
    python build_python_faq.py /tmp/pydoc/usr/share/doc/python3.11/html/faq
Stdlib only. See data/LICENSE-python-faq.txt for the license of the output.
"""

import json
import re
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

SECTIONS = ["general", "programming", "design", "library", "extending", "windows", "gui", "installed"]
MIN_CHARS, MAX_CHARS = 80, 1500
QUESTION_WORDS = {"how", "what", "why", "when", "where", "which", "who", "is", "are", "can", "do", "does"}
QUESTION_WORDS |= {"i", "my"}  # "I try to use __spam and ...", "My class defines __del__ but ..."
BLOCKS = {"p", "pre", "li", "dt", "dd", "tr"}
VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "source"}
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "python_faq.jsonl"


class FaqParser(HTMLParser):
    """Turns the main body of a Sphinx page into ("h", level, text) and ("p"/"li"/"pre", text) blocks."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.buf = [], []
        self.skip = 0  # depth inside elements whose text is dropped (TOC, pilcrow links)
        self.body = 0  # depth inside <div role="main">
        self.lists = []  # one entry per open <ul>/<ol>: item counter, or None for bullets
        self.items = []  # indent width of each open <li>
        self.kind, self.prefix, self.href = "p", "", None

    def flush(self):
        raw = "".join(self.buf)
        self.buf = []
        if self.kind == "pre":
            text = "\n".join("    " + ln.rstrip() if ln.strip() else "" for ln in raw.strip("\n").split("\n"))
        else:
            text = re.sub(r"\s+", " ", raw).strip()
        if text.strip():
            if self.kind == "h":
                self.blocks.append(("h", text, self.level))
            else:
                text = self.prefix + text
                if self.kind != "li" and self.items:  # continuation block inside a list item
                    text = textwrap.indent(text, " " * self.items[-1])
                self.blocks.append((self.kind, text, bool(self.lists)))
                self.prefix = ""
        self.kind = "p"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag in VOID:
            return
        if self.body:
            self.body += tag == "div"
        elif tag == "div" and a.get("role") == "main":
            self.body = 1
            return
        if not self.body or self.skip:
            self.skip += bool(self.skip)
            return
        if tag == "nav" or "headerlink" in cls:
            self.skip = 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.flush()
            self.kind, self.level = "h", int(tag[1])
        elif tag in ("ul", "ol"):
            self.flush()
            self.lists.append(0 if tag == "ol" else None)
        elif tag in BLOCKS:
            if tag == "p" and self.kind == "li" and not "".join(self.buf).strip():
                return  # first paragraph of a list item continues the item
            self.flush()
            self.kind = "pre" if tag == "pre" else ("li" if tag == "li" else "p")
            if tag == "li" and self.lists:
                n = self.lists[-1]
                if n is not None:
                    self.lists[-1] = n + 1
                bullet = "-" if n is None else f"{n + 1}."
                self.prefix = "  " * (len(self.lists) - 1) + bullet + " "
                self.items.append(len(self.prefix))
            if tag == "p" and "admonition-title" in cls:
                self.kind = "title"
        elif tag == "a" and a.get("href", "").startswith("http"):
            self.href, self.href_start = a["href"], len(self.buf)

    def handle_endtag(self, tag):
        if not self.body or tag in VOID:
            return
        self.body -= tag == "div"
        if self.skip:
            self.skip -= 1
            return
        if tag == "a" and self.href:
            text = "".join(self.buf[self.href_start :]).strip()
            if text and text.rstrip("/") != self.href.rstrip("/"):
                self.buf.append(f" ({self.href})")
            self.href = None
        elif tag == "p" and self.kind == "title":
            self.prefix = re.sub(r"\s+", " ", "".join(self.buf)).strip() + ": "
            self.buf = []
            self.kind = "p"
        elif tag in ("ul", "ol"):
            self.flush()
            self.lists.pop()
        elif tag in BLOCKS or re.fullmatch(r"h[1-6]", tag):
            self.flush()
            if tag == "li" and self.items:
                self.items.pop()

    def handle_data(self, data):
        if self.body and not self.skip:
            self.buf.append(data.replace("\u00b6", ""))


def is_question(title):
    words = title.split()
    return title.rstrip().endswith("?") or (bool(words) and words[0].lower() in QUESTION_WORDS)


def render(blocks):
    """Join (kind, text, in_list) blocks into text; cap at MAX_CHARS on a block boundary, keeping lists whole
    unless little text comes before them."""
    units = []
    for block in blocks:
        if block[2] and units and units[-1][-1][2]:
            units[-1].append(block)
        else:
            units.append([block])
    out, size, truncated = [], 0, False
    for unit in units:
        cost = sum(len(text) + 2 for _, text, _ in unit)
        if size + cost <= MAX_CHARS:
            out += unit
            size += cost
            continue
        if size < MAX_CHARS // 3:
            for block in unit:
                if out and size + len(block[1]) + 2 > MAX_CHARS:
                    break
                out.append(block)
                size += len(block[1]) + 2
        truncated = True
        break
    if truncated:  # do not end on a lead-in like "This code:"
        while len(out) > 1 and out[-1][0] != "pre" and out[-1][1].endswith(":"):
            out.pop()
    if out and len(out[0][1]) > MAX_CHARS:  # a single overlong first block: cut at a sentence end
        head = out[0][1][:MAX_CHARS]
        out = [(out[0][0], head[: max(head.rfind(". "), head.rfind(".\n")) + 1] or head, False)]
    text = ""
    for i, (kind, piece, _) in enumerate(out):
        sep = "\n" if i and kind == "li" and out[i - 1][0] == "li" else "\n\n"
        text += (sep if i else "") + piece
    return text.strip("\n")


def extract(path):
    parser = FaqParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.flush()
    blocks = parser.blocks
    heads = [i for i, b in enumerate(blocks) if b[0] == "h"]
    for i in heads:
        title, level = blocks[i][1], blocks[i][2]
        if level == 1 or not is_question(title):
            continue
        end = next((j for j in heads if j > i and blocks[j][2] <= level), len(blocks))
        body = [b if b[0] != "h" else ("p", b[1], False) for b in blocks[i + 1 : end]]
        yield title, render(body)


def main(faq_dir, out_path=DEFAULT_OUT):
    faq_dir, out_path = Path(faq_dir), Path(out_path)
    rows, seen = [], set()
    for section in SECTIONS:
        n = 0
        for prompt, response in extract(faq_dir / f"{section}.html"):
            if len(response) < MIN_CHARS or prompt in seen:
                continue
            seen.add(prompt)
            n += 1
            row = {"id": f"pyfaq-{section}-{n}", "prompt": prompt, "response": response}
            rows.append({**row, "topic": section, "source": "python-faq"})
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {out_path}")


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
