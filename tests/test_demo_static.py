"""The caller demo page's static files: present, referenced by the template, valid JavaScript.

Cheap guards that run without a browser: a renamed module or a syntax error
in a file no Python test imports would otherwise only show up as a blank
page. The browser-driven checks live with the `browser` marker.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.template.loader import render_to_string

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "static" / "demo"
JS_FILES = ["app.js", "protocol.js", "audio.js", "mic-worklet.js"]
STATIC_FILES = [*JS_FILES, "demo.css"]

# Hooks the browser tests and the README's tour rely on; renaming one breaks them.
STABLE_IDS = [
    "bot-select", "caller-name", "caller-phone", "mode-vad", "mode-ptt", "start-call", "hangup",
    "talk-button", "text-input", "text-send", "transcript", "answers", "latency", "median-response",
    "outcome", "status", "mic-error", "notice",
]

BOTS = [
    {"slug": "quickrupee-loan", "name": "QuickRupee loan", "description": "Personal loan <pre-check>"},
    {"slug": "home-renovation", "name": "Home renovation", "description": "Renovation leads"},
]


@pytest.fixture(scope="module")
def html() -> str:
    return render_to_string("demo.html", {"bots": BOTS})


@pytest.mark.parametrize("name", STATIC_FILES)
def test_static_file_exists(name):
    path = DEMO / name
    assert path.is_file(), f"missing static/demo/{name}"
    assert path.stat().st_size > 0


def test_template_references_every_asset(html):
    for name in ["demo.css", "app.js", "mic-worklet.js"]:
        assert f"/static/demo/{name}" in html, name
    assert re.search(r'<script type="module" src="/static/demo/app\.js">', html)
    # app.js loads these through relative imports; they must sit beside it.
    app = (DEMO / "app.js").read_text()
    assert 'from "./protocol.js"' in app and 'from "./audio.js"' in app
    assert "registerProcessor(\"mic-downsampler\"" in (DEMO / "mic-worklet.js").read_text()
    assert '"mic-downsampler"' in (DEMO / "audio.js").read_text()


def test_template_lists_bots_escaped(html):
    assert '<option value="quickrupee-loan"' in html
    assert ">Home renovation</option>" in html
    assert "&lt;pre-check&gt;" in html and "<pre-check>" not in html.split('id="bots-data"')[0]
    assert 'id="bots-data"' in html  # json_script payload


def test_template_without_bots_renders():
    html = render_to_string("demo.html", {"bots": []})
    assert "No bots available" in html


@pytest.mark.parametrize("hook", STABLE_IDS)
def test_stable_ids_present(html, hook):
    assert f'id="{hook}"' in html


def test_accessibility_basics(html):
    for field in ["bot-select", "caller-name", "caller-phone", "text-input", "mode-vad", "mode-ptt"]:
        assert f'for="{field}"' in html, f"#{field} has no <label>"
    assert re.search(r'id="transcript"[^>]*aria-live="polite"', html)
    assert re.search(r'id="status"[^>]*role="status"', html)
    assert '<html lang="en">' in html
    # No external fonts, scripts or styles: the page must work offline.
    assert not re.search(r'(src|href)="(https?:)?//', html)


@pytest.mark.parametrize("name", JS_FILES)
def test_javascript_parses(name):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # `node --check` treats .js as CommonJS unless told otherwise; these are ES modules.
    result = subprocess.run(
        [node, "--input-type=module", "--check"],
        input=(DEMO / name).read_text(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_demo_view_serves_the_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"/static/demo/app.js" in response.content


# Runs mic-worklet.js in node with a stubbed AudioWorkletGlobalScope: one
# second of a tone at the device rate must come out as 16 kHz, 640-byte frames,
# speech-band tones intact and tones above 8 kHz suppressed (no aliasing).
WORKLET_SIM = r"""
const { readFileSync } = require("node:fs");
const [file, rate, freq] = process.argv.slice(2);
const posted = [];
let Proc;
const scope = {
  sampleRate: Number(rate),
  AudioWorkletProcessor: class { constructor() { this.port = { postMessage: (m) => posted.push(m), onmessage: null }; } },
  registerProcessor: (name, cls) => { Proc = cls; },
};
new Function(...Object.keys(scope), readFileSync(file, "utf8"))(...Object.values(scope));
const p = new Proc({ processorOptions: { targetRate: 16000, frameSamples: 320 } });
const n = Number(rate);
let k = 0;
for (let b = 0; b < n / 128; b++) {
  const buf = new Float32Array(128);
  for (let i = 0; i < 128; i++, k++) buf[i] = 0.5 * Math.sin((2 * Math.PI * Number(freq) * k) / n);
  p.process([[buf]]);
}
p.port.onmessage({ data: { type: "flush" } });
const frames = posted.filter((m) => m.type === "frame");
let idx = 0, peak = 0;
for (const f of frames) for (const s of new Int16Array(f.pcm)) { if (idx++ > 1600) peak = Math.max(peak, Math.abs(s) / 32768); }
console.log(JSON.stringify({
  sizes: frames.map((f) => f.pcm.byteLength), samples: idx, peak, last: posted[posted.length - 1].type,
}));
"""


@pytest.mark.parametrize("rate", [48000, 44100])
def test_mic_worklet_downsamples_to_16k_frames(tmp_path, rate):
    import json

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = tmp_path / "sim.cjs"
    script.write_text(WORKLET_SIM)

    def run(freq: int) -> dict:
        out = subprocess.run(
            [node, str(script), str(DEMO / "mic-worklet.js"), str(rate), str(freq)],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return json.loads(out.stdout)

    speech, alias = run(1000), run(12000)
    assert set(speech["sizes"][:-1]) == {640}  # 20 ms frames; the flushed tail may be shorter
    assert speech["sizes"][-1] % 2 == 0 and speech["last"] == "flushed"
    assert abs(speech["samples"] - 16000) < 160  # one second in, one second out
    assert 0.45 < speech["peak"] < 0.55  # passband kept
    assert alias["peak"] < 0.05  # 12 kHz would alias to 4 kHz without the low-pass
