"""A lint rule over src/: nothing that can run code from a file is used.

Forbidden: importing pickle, cPickle, dill, marshal, shelve or joblib; ``torch.load``;
the builtins ``eval``, ``exec`` and ``__import__``; ``np.load`` without ``allow_pickle=False``;
``weights_only=False``; ``yaml.load`` / ``yaml.unsafe_load`` (``yaml.safe_load`` is fine);
and the standard library's XML parsers (use defusedxml; importing their types and
``ParseError`` is fine). Plain AST checks, so the suite needs no extra linter.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
XML_MODULES = {"xml.etree.ElementTree", "xml.etree.cElementTree", "xml.dom.minidom",
               "xml.sax", "lxml.etree"}
#: Parsing entry points of the standard XML modules (their types and errors may be imported).
XML_PARSERS = {"parse", "fromstring", "XML", "iterparse", "XMLParser", "XMLPullParser",
               "parseString", "fromstringlist", "make_parser"}
BANNED_MODULES = {"pickle", "cPickle", "_pickle", "dill", "marshal", "shelve", "joblib",
                  *XML_MODULES}
BANNED_CALLS = {("torch", "load"), ("yaml", "load"), ("yaml", "unsafe_load"),
                ("yaml", "full_load"), ("pickle", "loads"), ("np", "load")}
BANNED_BUILTINS = {"eval", "exec", "__import__"}
BANNED_KEYWORDS = {("allow_pickle", True), ("weights_only", False)}


def unsafe_uses(source: str, name: str = "<source>") -> list[str]:
    """Each forbidden construct in ``source`` as "name:line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        what = _forbidden(node)
        if what:
            found.append(f"{name}:{node.lineno}: {what}")
    return found


def _forbidden(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module in XML_MODULES:
        names = [f"{node.module}.{a.name}" for a in node.names if a.name in XML_PARSERS]
    elif isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    else:
        names = []
    banned = [n for n in names if n in BANNED_MODULES or n.split(".")[0] in BANNED_MODULES
              or n.rsplit(".", 1)[-1] in XML_PARSERS]
    if banned:
        return f"imports {banned[0]}"
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id in BANNED_BUILTINS:
        return f"calls {func.id}()"
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        call = (func.value.id, func.attr)
        keywords = {k.arg for k in node.keywords}
        if call in BANNED_CALLS and not (call == ("np", "load") and "allow_pickle" in keywords):
            return f"calls {'.'.join(call)}()" + (" without allow_pickle=False"
                                                   if call[0] == "np" else "")
    for keyword in node.keywords:
        if isinstance(keyword.value, ast.Constant) and \
                (keyword.arg, keyword.value.value) in BANNED_KEYWORDS:
            return f"passes {keyword.arg}={keyword.value.value}"
    return None


def test_no_code_execution_from_files_in_src():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        found += unsafe_uses(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)))
    assert not found, "unsafe loading in src/:\n" + "\n".join(found)


def test_the_rule_catches_each_forbidden_construct():
    bad = {
        "import pickle": "imports pickle",
        "from pickle import loads": "imports pickle",
        "import torch\ntorch.load('m.pt')": "calls torch.load()",
        "eval('1 + 1')": "calls eval()",
        "import numpy as np\nnp.load('a.npy', allow_pickle=True)": "allow_pickle=True",
        "import numpy as np\nnp.load('a.npz')": "without allow_pickle=False",
        "import yaml\nyaml.load(text)": "calls yaml.load()",
        "import xml.etree.ElementTree as ET": "imports xml.etree.ElementTree",
        "from xml.etree.ElementTree import parse": "imports xml.etree.ElementTree.parse",
        "f(x, weights_only=False)": "weights_only=False",
    }
    for source, what in bad.items():
        uses = unsafe_uses(source)
        assert len(uses) == 1 and what in uses[0], (source, uses)
    safe = ("import numpy as np\nnp.load('a.npz', allow_pickle=False)\n"
            "import yaml\nyaml.safe_load(text)\nmodel.eval()\n"
            "from defusedxml import ElementTree\n"
            "from xml.etree.ElementTree import Element, ParseError\n")
    assert unsafe_uses(safe) == []
