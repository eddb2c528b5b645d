"""The page templates (Jinja2, autoescaped): server-rendered HTML with a little inline JS for
keyboard shortcuts; no build step, nothing loaded from elsewhere."""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}Review{% endblock %} · mkd review</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: .6rem 1.2rem; display: flex; gap: 1rem;
  align-items: baseline; }
header a { color: #cfe0ff; } header .who { margin-left: auto; }
main { padding: 1rem 1.2rem; max-width: 1200px; }
pre, textarea { font: 13px/1.4 ui-monospace, Menlo, Consolas, monospace; }
pre { background: #fff; border: 1px solid #d7dbe2; padding: .6rem; margin: 0; white-space: pre-wrap;
  word-break: break-word; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.cols h3 { margin: .2rem 0; font-size: 14px; }
mark.diff { background: #ffe08a; border-radius: 2px; }
.none { color: #7a8190; font-style: italic; }
.tag { display: inline-block; padding: 0 .4rem; border-radius: 3px; background: #e4e8f0;
  font-size: 12px; margin-right: .2rem; }
.tag.disagreement { background: #ffd9d2; } .tag.guard { background: #e3d8ff; }
.tag.sample { background: #d8f1e0; }
.verdict-accept { color: #13733a; } .verdict-correct { color: #8a5a00; }
.verdict-reject { color: #b3261e; }
table { border-collapse: collapse; width: 100%; background: #fff; }
td, th { border-bottom: 1px solid #e3e6eb; padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
td.q { max-width: 520px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.actions { display: flex; gap: .6rem; align-items: flex-start; margin: 1rem 0; flex-wrap: wrap; }
.actions form { margin: 0; }
button { font: inherit; padding: .35rem .8rem; border: 1px solid #9aa3b2; border-radius: 4px;
  background: #fff; cursor: pointer; }
button.accept { border-color: #13733a; } button.reject { border-color: #b3261e; }
kbd { border: 1px solid #9aa3b2; border-radius: 3px; padding: 0 .25rem; font-size: 11px; }
textarea { width: 100%; min-height: 12rem; box-sizing: border-box; }
.errors { color: #b3261e; background: #fff1f0; border: 1px solid #f3b7b2; padding: .4rem .8rem;
  margin: .4rem 0; }
.errors li { margin: .1rem 0; }
.meta { color: #4a5263; margin: .2rem 0 .6rem; }
.decided { background: #eef6ff; border: 1px solid #bcd6f5; padding: .4rem .8rem; margin: .6rem 0; }
.notice { color: #4a5263; }
form.login { background: #fff; border: 1px solid #d7dbe2; padding: 1rem; max-width: 420px; }
form.login label { display: block; margin: .5rem 0 .2rem; }
form.login input { width: 100%; box-sizing: border-box; padding: .3rem; font: inherit; }
</style></head>
<body>
<header><strong>mkd review</strong><span>{{ dataset }}</span><a href="/">items</a>
{% if reviewer %}<span class="who">{{ reviewer }}
<form method="post" action="/logout" style="display:inline">
<input type="hidden" name="csrf" value="{{ csrf }}"><button type="submit">log out</button></form>
</span>{% endif %}</header>
<main>{% block main %}{% endblock %}</main>
</body></html>
"""

LOGIN = """{% extends "base.html" %}{% block title %}Log in{% endblock %}
{% block main %}
<h2>Log in</h2>
{% if error %}<div class="errors" id="errors">{{ error }}</div>{% endif %}
<form class="login" method="post" action="/login">
{% if need_token %}<label for="token">Token (the value of ${{ token_env }})</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>{% endif %}
<label for="reviewer">Your name (recorded with each decision)</label>
<input id="reviewer" name="reviewer" required value="{{ default_reviewer }}">
<input type="hidden" name="csrf" value="{{ login_csrf }}">
<p><button type="submit" id="login">Log in</button></p>
</form>
{% endblock %}
"""

INDEX = """{% extends "base.html" %}{% block title %}Items{% endblock %}
{% block main %}
<h2>{{ items|length }} item(s) to review, {{ done }} decided</h2>
<p class="notice">Disagreements come from evaluation {{ eval_id or "(none)" }}.
{% for p in problems %}<br>{{ p }}{% endfor %}</p>
<table><thead><tr><th>#</th><th>kind</th><th>task</th><th>query</th><th>agreement</th>
<th>decision</th></tr></thead><tbody>
{% for item in items %}{% set d = decisions.get(item.id) %}
<tr><td><a href="/items/{{ loop.index }}">{{ loop.index }}</a></td>
<td>{% for k in item.kinds %}<span class="tag {{ k }}">{{ k }}</span>{% endfor %}</td>
<td>{{ item.task }}</td><td class="q">{{ item.input }}</td>
<td>{{ "%.2f"|format(item.agreement) if item.agreement is not none else "" }}</td>
<td>{% if d %}<span class="verdict-{{ d.verdict }}">{{ d.verdict }}</span> by {{ d.reviewer }}
{% endif %}</td></tr>
{% endfor %}</tbody></table>
{% if items %}<p><a href="/items/{{ first_open }}" id="start">Start reviewing</a>
(<kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>a</kbd> accept, <kbd>c</kbd> correct,
<kbd>r</kbd> reject)</p>{% endif %}
{% endblock %}
"""

ITEM = """{% extends "base.html" %}{% block title %}Item {{ n }}{% endblock %}
{% block main %}
<h2>Item {{ n }} of {{ total }}
{% for k in item.kinds %}<span class="tag {{ k }}">{{ k }}</span>{% endfor %}</h2>
<div class="meta">task <strong id="task">{{ item.task }}</strong> · id <code id="item-id">{{ item.id }}</code>
{% if item.as_of %} · as of {{ item.as_of }}{% endif %}
{% if item.agreement is not none %} · agreement {{ "%.2f"|format(item.agreement) }}{% endif %}
{% if item.reason %} · quarantined: {{ item.reason }} (the query is the redacted text){% endif %}
</div>
{% if decision %}<div class="decided" id="decided">Decided:
<strong class="verdict-{{ decision.verdict }}">{{ decision.verdict }}</strong>
by {{ decision.reviewer }} at {{ decision.reviewed_at }}{% if decision.file != "web" %}
(imported from {{ decision.file }}){% endif %}; a new decision replaces it.</div>{% endif %}
<h3>Query</h3><pre id="query">{{ item.input }}</pre>
<div class="cols">
<div><h3>Teacher (the label)</h3><pre id="teacher">{{ teacher_html }}</pre></div>
<div><h3>Student{% if eval_id %} (evaluation {{ eval_id }}){% endif %}</h3>
<pre id="student">{{ student_html }}</pre></div>
</div>
<div class="actions">
<form method="post" action="/items/{{ n }}/decide" id="accept-form">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="item_id" value="{{ item.id }}">
<input type="hidden" name="verdict" value="accept">
<button class="accept" type="submit">Accept <kbd>a</kbd></button></form>
<form method="post" action="/items/{{ n }}/decide" id="reject-form">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="item_id" value="{{ item.id }}">
<input type="hidden" name="verdict" value="reject">
<button class="reject" type="submit">Reject <kbd>r</kbd></button></form>
<span>{% if prev %}<a href="/items/{{ prev }}" id="prev">previous <kbd>k</kbd></a>{% endif %}
{% if next %}<a href="/items/{{ next }}" id="next">next <kbd>j</kbd></a>{% endif %}</span>
</div>
<form method="post" action="/items/{{ n }}/decide" id="correct-form">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="item_id" value="{{ item.id }}">
<input type="hidden" name="verdict" value="correct">
<h3>Correct <kbd>c</kbd> <span class="notice">(checked against the {{ item.task }} schema;
<kbd>Ctrl</kbd>+<kbd>Enter</kbd> saves, <kbd>Esc</kbd> leaves the editor)</span></h3>
{% if errors %}<ul class="errors" id="errors">{% for e in errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
<textarea name="corrected" id="editor" spellcheck="false">{{ editor }}</textarea>
<p><input name="notes" id="notes" placeholder="notes (optional)" value="{{ notes }}" size="60">
<button type="submit" id="save-correction">Save correction</button></p>
</form>
<script>
(function () {
  var editor = document.getElementById("editor");
  function go(id) { var a = document.getElementById(id); if (a) { location.href = a.href; } }
  function submit(id) { document.getElementById(id).submit(); }
  editor.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit("correct-form"); }
    if (e.key === "Escape") { editor.blur(); }
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target.tagName;
    if (t === "TEXTAREA" || t === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "a") { e.preventDefault(); submit("accept-form"); }
    else if (e.key === "r") { e.preventDefault(); submit("reject-form"); }
    else if (e.key === "c") { e.preventDefault(); editor.focus(); }
    else if (e.key === "j") { go("next"); }
    else if (e.key === "k") { go("prev"); }
  });
  {% if errors %}editor.focus();{% endif %}
})();
</script>
{% endblock %}
"""

_ENV = Environment(
    loader=DictLoader(
        {"base.html": BASE, "login.html": LOGIN, "index.html": INDEX, "item.html": ITEM}
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(name: str, **context: Any) -> str:
    return _ENV.get_template(name).render(**context)
