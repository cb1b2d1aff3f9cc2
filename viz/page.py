"""The step-by-step page: one inline SVG (the graph laid out once, every gradient shown) and, per
step, the node finalised and its caption. The page's script shows step s by turning the gradients
not yet known back into "?" (or, for a node with several uses, the sum so far: ``0.0199 so far, 1 of
2 uses``) and white boxes: the size grows with nodes + steps, not nodes x steps.

The caption's first line, in bold, is the value. The caption area has a fixed height, so the drawing
below it stays still on screen from step to step; a longer or wider caption scrolls inside it and
says so ("more lines below", "lines go on to the right"), its lines are never wrapped (the ``=``
stay aligned), and it can be dragged taller. Keys act once per press whatever has focus (the slider's
own arrow handling is cancelled); zoom with the buttons or ctrl + wheel, pan by dragging, "fit"
shows the whole graph.

The view follows the steps with few, small moves: it pans only when the step's box would leave it,
by the least move that shows that box with a margin and as many of the next steps' boxes (and the
step's edges) as fit, so those steps need none; it glides there, or jumps when the reader prefers
reduced motion. A number an edit made too long for its box is drawn in a smaller font that fits.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .graph import printable
from .live import SCRIPT as LIVE_SCRIPT
from .live import Template
from .style import CURRENT, UNKNOWN_FILL


def inline_svg(svg: str) -> str:
    """The <svg> element alone, comments dropped (no XML declaration or DOCTYPE), for inlining in HTML."""
    return re.sub(r"<!--.*?-->\n?", "", svg[svg.index("<svg") :], flags=re.S)


def script_json(data: object) -> str:
    """JSON that cannot end the <script> element holding it, whatever the strings contain."""
    return (
        json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


CAPTION_ROWS = 8  # the caption area's height in lines, at most: a longer caption scrolls inside it
PLACEHOLDER = re.compile(r"\{(title|height|counter|last|count|state|script|svg)\}")


def page_html(
    title: str,
    svg: str,
    order: list[int],
    captions: list[Template],
    step_of: list[int],
    partials: dict[int, list[tuple[int, Template]]],
    exprs: list[Any] | None = None,
    live: dict[str, Any] | None = None,
    why: str = "",
    fixed: list[int] | None = None,
) -> str:
    """The whole page; ``order[s]`` is the node finalised at step s, ``step_of[i]`` the step from
    which node i's gradient is known, ``partials[i]`` the (step, text) of each sum so far a node
    with several uses shows before that. Captions and sums so far are templates: text, and indices
    into ``exprs`` where a number goes (``viz.live``). With ``live`` (``viz.live.model``) a leaf can
    be changed on the page and every number is recomputed; else ``why`` says why not. ``fixed``:
    the steps whose caption keeps the original numbers. The template is filled in one pass: no text
    put in it (a title, a label in the drawing or the state) is ever read as a placeholder."""
    state = script_json(
        {
            "order": order,
            "step": step_of,
            "partial": partials,
            "captions": captions,
            "exprs": exprs or [],
            "model": live,
            "why": why,
            "fixed": fixed or [],
            "current": CURRENT,
            "unknown": UNKNOWN_FILL,
        }
    )
    rows = min(max((len(caption_text(c).split("\n")) for c in captions), default=1), CAPTION_ROWS)
    values = {
        "title": html.escape(printable(title)),
        "height": str(round((rows + 0.2) * 1.3 * 15) + SCROLLBAR),  # 15 px text, 1.3 line height
        "counter": str(len(f"step {len(order)} of {len(order)}")),
        "last": str(len(order) - 1),
        "count": str(len(order)),
        "state": state,
        "script": LIVE_SCRIPT + CONTROLS + SCRIPT,
        "svg": inline_svg(svg),
    }
    return PLACEHOLDER.sub(lambda m: values[m[1]], PAGE)


def caption_text(template: Template) -> str:
    """A template's text alone (its numbers left out): enough to count its lines."""
    return "".join(p for p in template if isinstance(p, str))


SCROLLBAR = 16  # px below the last row: room for the caption's horizontal scrollbar (long lines)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
html, body { height: 100%; margin: 0; }
body { font-family: sans-serif; display: flex; flex-direction: column; }
header { padding: .4em 1em; border-bottom: 1px solid #ccc; }
h1 { font-size: 1.2em; margin: .2em 0; }
.controls { display: flex; gap: .4em; align-items: center; flex-wrap: wrap; }
input[type=range] { width: 30em; max-width: 40vw; }
header { flex: none; }
#counter { display: inline-block; min-width: {counter}ch; font-variant-numeric: tabular-nums; }
.captionbox { position: relative; margin: .4em 0 0; }
#caption { font-family: monospace; font-size: 15px; line-height: 1.3; margin: 0;
  white-space: pre; height: {height}px; overflow: auto; background: #fafafa;
  border: 1px solid #e0e0e0; padding: 0 .3em; resize: vertical; }
#caption strong { color: #08306b; }
#more { position: absolute; right: 1.6em; bottom: 1.3em; font-size: 12px; background: #fff3bf;
  border: 1px solid #d9c16a; border-radius: 3px; padding: 0 .4em; pointer-events: none; }
#view { flex: 1; overflow: auto; cursor: grab; background: #fff; }
#view.dragging { cursor: grabbing; }
#view svg { display: block; }
.editor { margin-top: .3em; min-height: 3.4em; align-content: flex-start; }  /* room for a message */
#edit-value { font-family: monospace; width: 14ch; }
#edit-drag { width: 10em; vertical-align: middle; }
#edit-message.refused { color: #b2182b; font-weight: bold; }
</style></head>
<body>
<header>
<h1>{title}</h1>
<div class="controls">
<button id="first" title="first step (Home)">start</button>
<button id="prev" title="step back (&#8592;)">&#9664;</button>
<button id="play" title="play / pause (space)">play</button>
<button id="next" title="step forward (&#8594;)">&#9654;</button>
<button id="last" title="last step (End)">end</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<span id="counter">step 1 of {count}</span>
<span style="margin-left:1em">zoom</span>
<button id="zoomout" title="zoom out (ctrl + wheel)">&#8722;</button>
<button id="zoomin" title="zoom in (ctrl + wheel)">+</button>
<button id="fit" title="the whole graph in the window">fit</button>
<button id="actual" title="actual size">100%</button>
</div>
<div class="controls editor">
<span id="edit-hint">click an input, a weight or a constant to change its value</span>
<label id="edit-label" hidden><span id="edit-name"></span> = <input id="edit-value" type="text"
 inputmode="decimal" spellcheck="false" autocomplete="off"> or drag <input id="edit-drag"
 type="range" min="-100" max="100" value="0" aria-label="drag the value"
 title="up to its size (at least 1) either way"></label>
<button id="reset" title="back to the original numbers" disabled>reset</button>
<span id="edit-message" role="status"></span></div>
<div class="captionbox"><pre id="caption" tabindex="0"></pre>
<span id="more" hidden></span></div>
</header>
<div id="view">
{svg}
</div>
<script type="application/json" id="state">{state}</script>
<script>
{script}
</script>
</body></html>
"""

CONTROLS = r"""var chainruleControls = function (o) {
  // The pages' controls, one copy for the step-by-step page and the training page: steps by keys
  // (once per press, whatever has focus), slider, buttons and play; zoom by buttons or ctrl + wheel;
  // pan by dragging. o: view, svg, slider, play, count, show(step), current() (the step shown),
  // interval (ms per step when playing); optional moved() (the reader moves the view) and ignore(e)
  // (a key event that belongs to a field of the page).
  var view = o.view, svg = o.svg, play = o.play, count = o.count, show = o.show, current = o.current;
  var moved = o.moved || function () {}, ignore = o.ignore || function () { return false; };
  var zoom = 1, timer = null, drag = null, dragged = false;
  var box = svg.viewBox.baseVal, W = box.width * 4 / 3, H = box.height * 4 / 3;  // points to CSS pixels
  function setZoom(z, cx, cy) {
    z = Math.max(0.05, Math.min(8, z));
    var v = view.getBoundingClientRect();
    cx = cx === undefined ? v.width / 2 : cx; cy = cy === undefined ? v.height / 2 : cy;
    var fx = (view.scrollLeft + cx) / (W * zoom), fy = (view.scrollTop + cy) / (H * zoom);
    zoom = z; moved();
    svg.setAttribute("width", W * z); svg.setAttribute("height", H * z);
    view.scrollLeft = fx * W * z - cx; view.scrollTop = fy * H * z - cy;
  }
  function fitZoom() { return Math.min(view.clientWidth / W, view.clientHeight / H); }
  function stop() { clearInterval(timer); timer = null; play.textContent = "play"; }
  function toggle() {
    if (timer) { stop(); return; }
    if (current() === count - 1) show(0);
    play.textContent = "pause";
    timer = setInterval(function () { if (current() === count - 1) stop(); else show(current() + 1); },
      o.interval);
  }
  var keys = {
    ArrowRight: function () { stop(); show(current() + 1); },
    ArrowLeft: function () { stop(); show(current() - 1); },
    Home: function () { stop(); show(0); }, End: function () { stop(); show(count - 1); }, " ": toggle
  };
  window.addEventListener("keydown", function (e) {
    var act = keys[e.key];
    if (ignore(e) || !act || e.ctrlKey || e.altKey || e.metaKey) return;
    e.preventDefault(); e.stopPropagation();  // the focused slider or button must not act as well
    if (!(e.key === " " && e.repeat)) act();
  }, true);
  window.addEventListener("keyup", function (e) {
    if (e.key === " ") { e.preventDefault(); e.stopPropagation(); }  // a focused button clicks on keyup
  }, true);
  o.slider.addEventListener("input", function () { stop(); show(+o.slider.value); });
  function on(id, fn) { document.getElementById(id).addEventListener("click", fn); }
  on("first", keys.Home); on("prev", keys.ArrowLeft); on("next", keys.ArrowRight); on("last", keys.End);
  on("play", toggle);
  on("zoomin", function () { setZoom(zoom * 1.25); }); on("zoomout", function () { setZoom(zoom / 1.25); });
  on("fit", function () { setZoom(fitZoom()); }); on("actual", function () { setZoom(1); });
  view.addEventListener("wheel", function (e) {
    if (!e.ctrlKey && !e.metaKey) { moved(); return; }
    e.preventDefault();
    var v = view.getBoundingClientRect();
    setZoom(zoom * (e.deltaY < 0 ? 1.15 : 1 / 1.15), e.clientX - v.left, e.clientY - v.top);
  }, { passive: false });
  view.addEventListener("mousedown", function (e) {
    moved();
    drag = { x: e.clientX, y: e.clientY, left: view.scrollLeft, top: view.scrollTop };
    dragged = false;
    view.classList.add("dragging"); e.preventDefault();
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    dragged = dragged || Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 4;
    view.scrollLeft = drag.left - (e.clientX - drag.x); view.scrollTop = drag.top - (e.clientY - drag.y);
  });
  window.addEventListener("mouseup", function () { drag = null; view.classList.remove("dragging"); });
  return { setZoom: setZoom, fitZoom: fitZoom, dragged: function () { return dragged; } };
};
"""

SCRIPT = r"""(function () {
  "use strict";
  var state = JSON.parse(document.getElementById("state").textContent);
  var order = state.order, count = order.length;
  var view = document.getElementById("view"), svg = view.querySelector("svg");
  var slider = document.getElementById("slider"), counter = document.getElementById("counter");
  var caption = document.getElementById("caption"), play = document.getElementById("play");
  var more = document.getElementById("more");
  var nodes = [], edges = [], plain = [], current = 0, loaded = false;
  var FIT_PAD = 3;  // px of the box's drawing units kept free either side of a number that had to shrink
  var DEAD = /^(dead ReLU|: output 0, passes no gradient back)$/;  // a dead ReLU's row
  var byId = {}, model = state.model && new live.Model(state.model), selected = null;
  var precision = state.model ? state.model.precision : 4;
  function text(template) {  // a caption or a sum so far, with the numbers as they are now
    return template.map(function (p) {
      return typeof p === "string" ? p : live.fmt(model.value(state.exprs[p]), precision);
    }).join("");
  }
  var captions = state.captions.map(text);
  function lastValueText(g, pattern) {  // the text that changes, centred where it is drawn
    var found = null;
    g.querySelectorAll("text").forEach(function (t) {
      if (t.getAttribute("font-weight") !== "bold" && pattern.test(t.textContent)) found = t;
    });
    if (found) {  // so a longer text (a sum so far) grows both ways, inside its cell
      var b = found.getBBox();
      found.setAttribute("x", b.x + b.width / 2);
      found.setAttribute("text-anchor", "middle");
    }
    return found;
  }
  svg.querySelectorAll("g.node").forEach(function (g) {
    var m = /^v(\d+)$/.exec(g.id), text = m && lastValueText(g, /^grad /);
    if (m && !text && model && state.model.op[+m[1]] === "" && g.querySelectorAll("text").length === 1) {
      var number = g.querySelector("text");  // a constant drawn as its number
      plain.push({ id: +m[1], g: g, text: number, colour: number.getAttribute("fill") });
    }
    if (!text) return;
    var shape = g.querySelector("polygon, ellipse");
    var texts = Array.prototype.slice.call(g.querySelectorAll("text"));
    var node = { id: +m[1], g: g, shape: shape, text: text, final: text.textContent, texts: texts,
      data: lastValueText(g, /^data /),
      dead: texts.filter(function (t) { return DEAD.test(t.textContent); }),
      colours: texts.map(function (t) { return t.getAttribute("fill"); }),
      fill: shape.getAttribute("fill"), stroke: shape.getAttribute("stroke"),
      width: shape.getAttribute("stroke-width") };
    nodes.push(node); byId[node.id] = node;
  });
  svg.querySelectorAll("g.edge").forEach(function (g) {
    var m = /\bk(\d+)\b/.exec(g.getAttribute("class") || "");
    if (!m) return;
    var path = g.querySelector("path"), head = g.querySelector("polygon");
    var text = lastValueText(g, /^(carries|dL\/dw) /), k = /^e(\d+)$/.exec(g.id);
    edges.push({ id: +m[1], k: k && +k[1], path: path, head: head, text: text,
      final: text && text.textContent, local: lastValueText(g, /^local /),
      stroke: path.getAttribute("stroke") });  // its width (|w| in the collapsed view) is kept
  });
  function paint(el, attr, value) {
    if (!el) return;
    if (value === null) el.removeAttribute(attr); else el.setAttribute(attr, value);
  }
  function fit(t, shape) {  // a number no wider than its box (a longer one, after an edit): a smaller font
    if (!t || !shape || t.fitted === t.textContent) return;
    t.fitted = t.textContent;
    if (t.drawnSize === undefined) t.drawnSize = parseFloat(t.getAttribute("font-size"));
    t.setAttribute("font-size", t.drawnSize.toFixed(2));  // centred (lastValueText): room on both sides
    var b = shape.getBBox(), x = parseFloat(t.getAttribute("x")), width = t.getComputedTextLength();
    var room = 2 * Math.min(x - b.x, b.x + b.width - x) - 2 * FIT_PAD;
    if (width > room && room > 0) t.setAttribute("font-size", (t.drawnSize * room / width).toFixed(2));
  }
  function show(s, keep) {  // keep: leave the view where the reader has it (an edit, a selection)
    s = Math.max(0, Math.min(count - 1, s));
    if (s !== current) heading = s > current ? 1 : -1;
    current = s;
    var first = order[s];
    nodes.forEach(function (n) {
      var known = state.step[n.id] <= s, now = n.id === first;
      n.text.textContent = known ? n.final : n.final.replace(/\S+$/, partialAt(n.id, s) || "?");
      paint(n.shape, "fill", known ? n.fill : state.unknown);
      n.texts.forEach(function (t, j) { paint(t, "fill", known ? n.colours[j] : null); });
      paint(n.shape, "stroke", now ? state.current : n.id === selected ? "#d95f02" : n.stroke);
      paint(n.shape, "stroke-width", now ? "4" : n.id === selected ? "3" : n.width);
      fit(n.text, n.shape); fit(n.data, n.shape);
    });
    edges.forEach(function (e) {
      var known = state.step[e.id] <= s;
      if (e.text) e.text.textContent = known ? e.final : e.final.replace(/\S+$/, "?");
      paint(e.path, "stroke", known ? e.stroke : "#999999");
      paint(e.head, "stroke", known ? e.stroke : "#999999");
      paint(e.head, "fill", known ? e.stroke : "#999999");
    });
    plain.forEach(function (p) { paint(p.text, "fill", p.id === selected ? "#d95f02" : p.colour); });
    slider.value = s;
    counter.textContent = "step " + (s + 1) + " of " + count;
    var text = captions[s], cut = text.indexOf("\n"), head = document.createElement("strong");
    head.textContent = cut < 0 ? text : text.slice(0, cut);  // the value, first
    caption.textContent = "";
    caption.appendChild(head);
    if (cut >= 0) caption.appendChild(document.createTextNode(text.slice(cut)));
    caption.scrollTop = 0; caption.scrollLeft = 0;
    moreLines();
    if (!keep) follow(s);
  }
  function partialAt(id, s) {  // the sum so far of a node with several uses, at step s
    var found = null;
    (state.partial[id] || []).forEach(function (p) { if (p[0] <= s) found = p[1]; });
    return found && text(found);
  }
  function moreLines() {  // say where the caption goes on, as a hidden scrollbar would not
    var down = caption.scrollTop + caption.clientHeight < caption.scrollHeight - 1;
    var right = caption.scrollLeft + caption.clientWidth < caption.scrollWidth - 1;
    more.hidden = !(down || right);
    more.textContent = down && right ? "more below and to the right: scroll \u25be \u25b8"
      : down ? "more lines below: scroll \u25be" : "lines go on to the right: scroll \u25b8";
  }
  caption.addEventListener("scroll", moreLines);
  // --- the view follows the steps: it pans only when the step's box would leave it, by the least
  // amount that shows that box with a margin, its edges and as many of the next steps' boxes as fit
  // (so the next steps need no pan), smoothly unless the reader prefers reduced motion ------------
  var MARGIN = 12, AHEAD = 12, aim = null, glide = null, heading = 1;
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)");
  function area(el) {  // el's box in the view's scrolled content, CSS px (whatever the scroll)
    var r = el.getBoundingClientRect(), v = view.getBoundingClientRect();
    var x = r.left - v.left - view.clientLeft + view.scrollLeft;
    var y = r.top - v.top - view.clientTop + view.scrollTop;
    return { l: x, t: y, r: x + r.width, b: y + r.height };
  }
  function union(a, b) {
    return { l: Math.min(a.l, b.l), t: Math.min(a.t, b.t), r: Math.max(a.r, b.r), b: Math.max(a.b, b.b) };
  }
  function fits(a) {
    return a.r - a.l <= view.clientWidth - 2 * MARGIN && a.b - a.t <= view.clientHeight - 2 * MARGIN;
  }
  function least(lo, hi, at, size, most) {  // the scroll nearest ``at`` that shows [lo, hi] with a margin
    var to = hi - lo > size - 2 * MARGIN ? (lo + hi - size) / 2
      : lo < at + MARGIN ? lo - MARGIN : hi > at + size - MARGIN ? hi - size + MARGIN : at;
    return Math.round(Math.max(0, Math.min(most, to)));
  }
  function follow(s) {
    var n = byId[order[s]];
    if (!n) return;
    var at = aim || { left: view.scrollLeft, top: view.scrollTop }, box = area(n.shape);
    var w = view.clientWidth, h = view.clientHeight;
    if (box.l >= at.left && box.r <= at.left + w && box.t >= at.top && box.b <= at.top + h) return;
    var want = box;
    for (var k = 1; k <= AHEAD; k++) {  // the next steps' boxes, in the direction of reading
      var next = byId[order[s + k * heading]];
      if (next === undefined && (s + k * heading < 0 || s + k * heading >= count)) break;
      if (!next) continue;
      var more = union(want, area(next.shape));
      if (!fits(more)) break;
      want = more;
    }
    edges.forEach(function (e) {  // the edges whose gradient this step reveals, where they fit too
      if (e.id === n.id && e.text) { var u = union(want, area(e.text)); if (fits(u)) want = u; }
    });
    panTo(least(want.l, want.r, at.left, w, view.scrollWidth - w),
      least(want.t, want.b, at.top, h, view.scrollHeight - h));
  }
  function panTo(left, top) {  // eased over a moment (at once with reduced motion or on load)
    cancelAnimationFrame(glide); glide = null;
    aim = { left: left, top: top };
    var x0 = view.scrollLeft, y0 = view.scrollTop, start = null, f = 0;
    var time = Math.min(450, 200 + Math.hypot(left - x0, top - y0) / 4);
    if ((reduced && reduced.matches) || !loaded) { view.scrollLeft = left; view.scrollTop = top; return; }
    function frame(now) {
      if (start === null) start = now;
      f = Math.min(1, (now - start) / time, f + 0.25);  // a busy machine's late frames: still 4 steps
      var e = f < 0.5 ? 2 * f * f : 1 - 2 * (1 - f) * (1 - f);
      view.scrollLeft = x0 + (left - x0) * e; view.scrollTop = y0 + (top - y0) * e;
      glide = f < 1 ? requestAnimationFrame(frame) : null;
    }
    glide = requestAnimationFrame(frame);
  }
  function letGo() { cancelAnimationFrame(glide); glide = null; aim = null; }  // the reader moves the view
  view.addEventListener("scroll", function () {
    var off = aim && Math.abs(view.scrollLeft - aim.left) + Math.abs(view.scrollTop - aim.top);
    if (!glide && off > 2) aim = null;  // scrolled by the reader: the next step starts from there
  });
  var controls = chainruleControls({ view: view, svg: svg, slider: slider, play: play, count: count,
    show: show, current: function () { return current; }, interval: 900, moved: letGo,
    ignore: function (e) { return e.target === input || e.target === nudge; } });  // their keys are their own
  var setZoom = controls.setZoom, fitZoom = controls.fitZoom;

  // --- change a value and watch: a leaf's new number, every number recomputed (viz.live) ---------
  var input = document.getElementById("edit-value"), message = document.getElementById("edit-message");
  var reset = document.getElementById("reset"), hint = document.getElementById("edit-hint");
  var nudge = document.getElementById("edit-drag"), base = 0;  // dragging: from the value it had
  function say(words, refused) { message.textContent = words; message.className = refused ? "refused" : ""; }
  function refresh() {  // model.now's numbers into the boxes, the edges and the captions
    var now = model.now, m = state.model;
    nodes.forEach(function (n) {
      var dead = m.op[n.id] === "relu" && now.data[n.id] === 0;
      n.final = "grad " + live.fmt(now.grad[n.id], precision);
      if (n.data) n.data.textContent = "data " + live.fmt(now.data[n.id], precision);
      if (m.color) {
        var c = dead ? [m.zero, "#000000"] : model.colours(now.grad[n.id]);
        n.fill = c[0];
        n.colours = n.texts.map(function () { return c[1]; });
      }
      n.dead.forEach(function (t) { t.style.visibility = dead ? "" : "hidden"; });
      if (m.op[n.id] === "relu") paint(n.shape, "stroke-dasharray", dead ? "5,2" : null);  // dead: dashed
    });
    plain.forEach(function (p) { p.text.textContent = live.fmt(now.data[p.id], precision); });
    edges.forEach(function (e) {
      if (e.k === null) return;
      var carried = now.grad[model.child[e.k]] * now.local[e.k];
      if (e.local) e.local.textContent = "local " + live.fmt(now.local[e.k], precision);
      if (e.text) e.final = "carries " + live.fmt(carried, precision);
      if (m.color) e.stroke = carried ? model.colours(carried)[0] : "#bbbbbb";
    });
    captions = state.captions.map(text);
    state.fixed.forEach(function (s) {
      if (model.now !== model.original) captions[s] += "\n(this caption keeps the original numbers)";
    });
    show(current, true);
  }
  function select(i) {
    selected = i;
    document.getElementById("edit-label").hidden = false;
    hint.hidden = true;
    document.getElementById("edit-name").textContent = state.model.name[i];
    input.value = String(model.now.data[i]);
    base = model.now.data[i]; nudge.value = 0;
    say("type a new number: every value, local derivative and gradient follows", false);
    show(current, true);
    input.focus(); input.select();
  }
  function edit() {  // the typed number, or a refusal that changes nothing
    try {
      model.now = model.compute(selected, live.parse(input.value));
    } catch (e) {
      if (!(e instanceof live.Refused)) throw e;
      say("refused: " + e.message + "; nothing changed", true);
      return false;
    }
    reset.disabled = false;
    say(state.model.name[selected] + " = " + live.fmt(model.now.data[selected], precision) +
      ": every number recomputed", false);
    refresh();
    return true;
  }
  function restore() {
    model.now = model.original;
    if (selected !== null) input.value = String(model.now.data[selected]);
    if (selected !== null) base = model.now.data[selected];
    nudge.value = 0;
    reset.disabled = true;
    say("the original numbers are back", false);
    refresh();
  }
  if (model) {
    svg.addEventListener("click", function (e) {
      var g = e.target.closest && e.target.closest("g.node"), m = g && /^v(\d+)$/.exec(g.id);
      if (m && !controls.dragged() && state.model.op[+m[1]] === "") select(+m[1]);
    });
    svg.querySelectorAll("g.node").forEach(function (g) {
      var m = /^v(\d+)$/.exec(g.id);
      if (m && state.model.op[+m[1]] === "") g.style.cursor = "pointer";
    });
    input.addEventListener("input", edit);
    input.addEventListener("change", function () { base = model.now.data[selected]; nudge.value = 0; });
    nudge.addEventListener("input", function () {  // base + up to its size either way, 6 digits
      input.value = String(Number((base + nudge.value / 100 * Math.max(1, Math.abs(base))).toPrecision(6)));
      edit();
    });
    nudge.addEventListener("change", function () { base = model.now.data[selected]; nudge.value = 0; });
    input.addEventListener("keydown", function (e) {  // done: the keys step through backward again
      if (e.key === "Enter" || e.key === "Escape") input.blur();
    });
    reset.addEventListener("click", restore);
  } else {
    hint.textContent = state.why;
    reset.hidden = true;
  }
  window.chainrule = {  // for tests and the curious: the numbers as they are now
    values: function () { return model ? model.now.data.slice() : null; },
    grads: function () { return model ? model.now.grad.slice() : null; },
    locals: function () { return model ? model.now.local.slice() : null; },
    caption: function () { return captions[current]; },
    select: select, reset: restore, rules: live.rules, fmt: live.fmt, fsum: live.fsum,
    view: function () {  // where the view is, where it is heading, and whether it is on its way
      return { left: view.scrollLeft, top: view.scrollTop, moving: glide !== null,
        aim: aim && [aim.left, aim.top] };
    }
  };
  setZoom(Math.max(Math.min(fitZoom(), 1), 0.8));  // node text at least 11 px (11 pt at 0.8 is 11.7 px)
  show(0);
  loaded = true;
})();"""
