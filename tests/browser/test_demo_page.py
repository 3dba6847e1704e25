"""The caller demo page at `/`, driven in a real Chromium against a real daphne server.

Typed calls, a call spoken through Chromium's fake microphone (espeak-ng
speech → the server's VAD, Whisper and dialogue), a refused microphone, and
the start errors a caller can meet.
"""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from calls.audio import wav_bytes
from devtools.speech import say, silence
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

LOAN = "quickrupee-loan"
RENOVATION = "home-renovation"
CALL_TIMEOUT_MS = 30_000


# ---------------------------------------------------------------- helpers


def start_call(page, bot: str, *, name: str = "", phone: str = "") -> dict:
    """Open `/`, pick `bot`, start a hands-free call; returns the POST /api/calls/ answer (with its token)."""
    page.goto("/")
    expect(page.locator("#start-call")).to_be_enabled()
    page.select_option("#bot-select", bot)
    expect(page.locator("#mode-vad")).to_be_checked()  # hands-free is the default
    if name:
        page.fill("#caller-name", name)
    if phone:
        page.fill("#caller-phone", phone)
    with page.expect_response(lambda r: r.url.endswith("/api/calls/") and r.request.method == "POST") as info:
        page.click("#start-call")
    response = info.value
    assert response.status == 201, response.text()
    started = response.json()
    expect(page.locator("#status")).to_have_attribute("data-status", "live", timeout=CALL_TIMEOUT_MS)
    return started


def bot_line(page, text: str):
    return page.locator("#transcript li[data-speaker='bot']").filter(has_text=text)


def wait_for_bot(page, text: str, timeout: int = CALL_TIMEOUT_MS) -> None:
    """Wait for the bot line containing `text` and for its first audio.

    A caller who answers before any of the question's audio went out cuts the
    reply off before it was heard, and that turn then has no response latency;
    a real caller answers after hearing the question.
    """
    line = bot_line(page, text)
    expect(line).to_have_count(1, timeout=timeout)
    turn = line.get_attribute("data-turn")
    if turn == "0":
        page.wait_for_function("window.demoState.botAudioBytes > 0", timeout=timeout)
    else:
        expect(page.locator(f"#latency tbody tr[data-turn='{turn}']")).to_have_count(1, timeout=timeout)


def type_answer(page, text: str, question: str) -> None:
    """Type `text` and wait until the bot has understood it as the answer to `question`."""
    expect(page.locator("#text-input")).to_be_enabled()
    page.fill("#text-input", text)
    page.click("#text-send")
    expect(page.locator("#text-input")).to_have_value("")
    expect(page.locator(f"#answers li[data-question='{question}']")).to_have_attribute(
        "data-understood", "true", timeout=CALL_TIMEOUT_MS
    )
    expect(page.locator("#transcript li[data-speaker='caller']").filter(has_text=text)).to_have_count(1)


def answer_value(page, question: str):
    return json.loads(page.locator(f"#answers li[data-question='{question}']").get_attribute("data-value"))


def stored_call(daphne_server, started: dict, *, timeout: float = 60.0) -> dict:
    """GET /api/calls/<id>/ with the call's Bearer token, once the server has stored the end."""
    deadline = time.monotonic() + timeout
    while True:
        status, data = daphne_server.api(f"/api/calls/{started['call_id']}/", token=started["token"])
        assert status == 200, data
        if data["status"] == "ended" and data["outcome"] or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


def finish_loan_call_by_typing(page) -> None:
    wait_for_bot(page, "salaried employee")
    type_answer(page, "yes", "salaried")
    wait_for_bot(page, "monthly salary more than")
    type_answer(page, "about forty thousand a month", "monthly_salary")
    wait_for_bot(page, "metro city")
    type_answer(page, "yes, Mumbai", "metro_city")
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "qualified", timeout=CALL_TIMEOUT_MS)


# ---------------------------------------------------------------- typed call


def test_typed_call_qualifies_with_transcript_answers_and_latency(page, daphne_server):
    started = start_call(page, LOAN, name="Asha Browser", phone="+91 98765 43210")
    assert started["bot"]["slug"] == LOAN
    assert started["ws_url"].startswith(f"/ws/calls/{started['call_id']}/?token=")
    expect(page.locator("#mic-state")).to_have_attribute("data-state", "on")  # fake mic, allowed

    wait_for_bot(page, "salaried employee")
    expect(bot_line(page, "QuickRupee")).to_have_count(1)  # greeting and first question in one line
    type_answer(page, "yes", "salaried")
    assert answer_value(page, "salaried") is True

    wait_for_bot(page, "monthly salary more than")
    type_answer(page, "about forty thousand a month", "monthly_salary")
    assert answer_value(page, "monthly_salary") == 40000
    expect(page.locator("#answers li[data-question='monthly_salary'] .v")).to_have_text(re.compile(r"40[,.\s ]?000"))
    wait_for_bot(page, "metro city")
    screenshot(page, "demo-mid-call")

    type_answer(page, "yes, Mumbai", "metro_city")
    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-outcome", "qualified", timeout=CALL_TIMEOUT_MS)
    expect(outcome).to_be_visible()
    expect(page.locator("#outcome-title")).to_have_text("Qualified")
    expect(page.locator("#status")).to_have_attribute("data-status", "ended")
    wait_for_bot(page, "Great news, you are eligible")  # the closing line

    # Transcript: bot and caller lines, in order, with the caller's typed words.
    transcript = page.locator("#transcript li")
    speakers = [li.get_attribute("data-speaker") for li in transcript.all()]
    assert speakers == ["bot", "caller", "bot", "caller", "bot", "caller", "bot"], speakers
    callers = page.locator("#transcript li[data-speaker='caller'] .text").all_inner_texts()
    assert callers == ["yes", "about forty thousand a month", "yes, Mumbai"]
    expect(page.locator("#transcript-empty")).to_be_hidden()

    # Answers: three, all understood.
    answers = page.locator("#answers li")
    expect(answers).to_have_count(3)
    expect(page.locator("#answers li[data-understood='true']")).to_have_count(3)

    # Latency: a row per caller turn; typed answers have no ASR step.
    rows = page.locator("#latency tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#latency tbody td[data-stage='asr']").first).to_have_text("—")
    response_ms = [float(v) for v in page.locator("#latency tbody td[data-stage='response']").evaluate_all(
        "tds => tds.map(td => td.dataset.ms)")]
    assert all(v >= 0 for v in response_ms), response_ms  # how fast is for bench/, not a test bound
    median = page.locator("#median-response")
    expect(median).to_have_attribute("data-ms", re.compile(r"^\d+(\.\d+)?$"))
    assert float(median.get_attribute("data-ms")) == sorted(response_ms)[1]
    expect(median).to_have_text(re.compile(r"^\d+ ms$"))

    state = page.evaluate("window.demoState")
    assert state["outcome"] == "qualified" and state["callId"] == started["call_id"]
    assert state["botAudioBytes"] > 0  # the bot's speech arrived as audio too
    screenshot(page, "demo-call-end")

    # The server stored the same call.
    stored = stored_call(daphne_server, started)
    assert stored["status"] == "ended" and stored["outcome"] == "qualified"
    assert [a["question"] for a in stored["answers"]] == ["salaried", "monthly_salary", "metro_city"]
    assert [a["transcript"] for a in stored["answers"]] == ["yes", "about forty thousand a month", "yes, Mumbai"]
    assert all(a["understood"] for a in stored["answers"])
    assert [t["speaker"] for t in stored["turns"]] == speakers
    assert len(stored["latency"]) == 3
    assert stored["caller"] == {"name": "Asha Browser", "phone": "+91 98765 43210"}
    assert not page.errors, page.errors


# ---------------------------------------------------------------- spoken call


# Leading/trailing silences (ms) chosen from the bot's lines: the opening line
# (greeting + first question) lasts about 8 s, each next question about 3-4 s.
# The server answers whatever question is current, so an answer that comes
# early only barges in; Chromium loops the file, so a re-asked question hears
# the next answer round.
SPOKEN_SCRIPT = [
    (8000, "yes I own my home"),
    (5500, "yes, about fifty thousand dollars"),
    (5500, "yes, next month"),
]
TRAILING_SILENCE_MS = 8000


@pytest.fixture(scope="module")
def spoken_answers_wav(tmp_path_factory):
    pcm = b"".join(silence(gap) + say(text, voice="en-us", speed=150) for gap, text in SPOKEN_SCRIPT)
    pcm += silence(TRAILING_SILENCE_MS)
    path = tmp_path_factory.mktemp("mic") / "renovation-answers.wav"
    path.write_bytes(wav_bytes(pcm, 16000))
    return path


@pytest.mark.both_passes  # the embedded default (SQLite, in-memory layer) end to end, as `make run` serves it
@pytest.mark.speech
def test_spoken_call_through_fake_microphone_qualifies(launch_browser, new_page, spoken_answers_wav, daphne_server):
    page = new_page(launch_browser(mic_wav=spoken_answers_wav))
    started = start_call(page, RENOVATION)
    expect(page.locator("#mic-state")).to_have_attribute("data-state", "on")

    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-outcome", re.compile(r".+"), timeout=90_000)
    screenshot(page, "demo-spoken-call-end")
    state = page.evaluate("window.demoState")
    assert state["framesSent"] > 100, state  # the microphone really streamed
    assert outcome.get_attribute("data-outcome") == "qualified", (state, page.locator("#transcript").inner_text())

    # Every answer was heard, understood and qualifies.
    for question in ("owns_home", "budget", "start_soon"):
        expect(page.locator(f"#answers li[data-question='{question}']")).to_have_attribute("data-understood", "true")
    assert answer_value(page, "owns_home") is True
    assert answer_value(page, "budget") in (50000, True)  # the amount, or "yes" if re-asked out of step
    assert answer_value(page, "start_soon") in (1, True)

    # A caller line for every answer, each with an ASR time. (Not the words Whisper heard:
    # they vary with how Chromium's fake microphone loops the file; what was decided is above.)
    callers = page.locator("#transcript li[data-speaker='caller'] .text").all_inner_texts()
    assert len(callers) >= 3 and all(c.strip() for c in callers), callers
    asr_ms = page.locator("#latency tbody td[data-stage='asr']").evaluate_all("tds => tds.map(td => td.dataset.ms)")
    assert asr_ms and all(v for v in asr_ms), asr_ms
    expect(page.locator("#median-response")).to_have_attribute("data-ms", re.compile(r"^\d+(\.\d+)?$"))

    stored = stored_call(daphne_server, started)
    assert stored["outcome"] == "qualified"
    assert all(a["understood"] for a in stored["answers"])
    assert all(row.get("asr_ms") is not None for row in stored["latency"]), stored["latency"]
    assert not page.errors, page.errors


# ---------------------------------------------------------------- mic refused


def test_mic_denied_shows_error_and_call_completes_by_typing(launch_browser, new_page):
    # No --use-fake-ui-for-media-stream and no permission granted: Chromium refuses the mic.
    page = new_page(launch_browser(fake_ui=False))
    page.context.clear_permissions()
    start_call(page, LOAN)
    mic_error = page.locator("#mic-error")
    expect(mic_error).to_be_visible()
    expect(mic_error).to_have_text("Microphone access was denied — you can still type your answers.")
    expect(page.locator("#mic-state")).to_have_attribute("data-state", "denied")
    expect(page.locator("#mic-label")).to_have_text("Mic off")
    expect(page.locator("#text-input")).to_be_focused()

    finish_loan_call_by_typing(page)
    expect(page.locator("#answers li")).to_have_count(3)
    assert page.evaluate("window.demoState.framesSent") == 0
    screenshot(page, "demo-mic-denied")
    assert not [e for e in page.errors if e.startswith("pageerror")], page.errors


# ---------------------------------------------------------------- start errors


def test_start_errors_are_shown_and_the_page_recovers(page):
    page.goto("/")
    start_error = page.locator("#start-error")
    expect(start_error).to_be_hidden()

    # 1. Network failure: the request never reaches a server.
    page.route("**/api/calls/", lambda route: route.abort("connectionrefused"))
    page.click("#start-call")
    expect(start_error).to_be_visible()
    expect(start_error).to_have_text("The server is unreachable")
    expect(page.locator("#status")).to_have_attribute("data-status", "idle")
    expect(page.locator("#start-call")).to_be_enabled()
    screenshot(page, "demo-server-unreachable")
    page.unroute("**/api/calls/")

    # 2. A proxy's HTML error page: still a readable sentence.
    page.route("**/api/calls/", lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>Bad gateway</h1>"))
    page.click("#start-call")
    expect(start_error).to_have_text(re.compile(r"^The server answered 502"))
    page.unroute("**/api/calls/")

    # 3. A protocol error from the real server (unknown bot → 404 JSON): its message is shown.
    page.eval_on_selector("#bot-select", "s => { s.options[0].value = 'no-such-bot'; s.selectedIndex = 0; }")
    page.click("#start-call")
    expect(start_error).to_contain_text("No active bot called 'no-such-bot'")
    expect(page.locator("#status")).to_have_attribute("data-status", "idle")

    # 4. After the errors a real call starts, and hanging up ends it as incomplete.
    page.reload()
    started = start_call(page, LOAN)
    expect(page.locator("#start-error")).to_be_hidden()
    wait_for_bot(page, "salaried employee")
    page.click("#hangup")
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "incomplete", timeout=CALL_TIMEOUT_MS)
    assert page.evaluate("window.demoState.callId") == started["call_id"]
