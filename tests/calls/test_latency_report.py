"""`manage.py latency_report` on real stored LatencySample rows with known values."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import numpy
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.management.commands.latency_report import parse_moment
from calls.models import Call, LatencySample
from calls.percentile import percentile

pytestmark = pytest.mark.django_db

LOAN_RESPONSE = [310.0, 420.5, 388.0, 1290.0, 405.0, 512.0, 377.0, 460.0, 299.0, 801.0]
LOAN_ASR = [120.0, 180.0, 95.0, 240.0, 160.0]
RENO_RESPONSE = [650.0, 700.0, 720.0]
OLD_RESPONSE = [5000.0, 6000.0]  # ten days ago


@pytest.fixture
def samples(loan_bot, renovation_bot):
    loan = Call.objects.create(bot=loan_bot)
    reno = Call.objects.create(bot=renovation_bot)
    rows = [LatencySample(call=loan, turn=i, stage="response", ms=ms, provider="piper")
            for i, ms in enumerate(LOAN_RESPONSE)]
    rows += [LatencySample(call=loan, turn=i, stage="asr", ms=ms, provider="local-whisper")
             for i, ms in enumerate(LOAN_ASR)]
    rows += [LatencySample(call=reno, turn=i, stage="response", ms=ms, provider="elevenlabs")
             for i, ms in enumerate(RENO_RESPONSE)]
    LatencySample.objects.bulk_create(rows)
    old = LatencySample.objects.bulk_create(
        [LatencySample(call=loan, turn=20 + i, stage="response", ms=ms, provider="piper") for i, ms in enumerate(OLD_RESPONSE)]
    )
    LatencySample.objects.filter(pk__in=[s.pk for s in old]).update(created_at=timezone.now() - timedelta(days=10))


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("latency_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def expected(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "mean": pytest.approx(numpy.mean(values)),
        "p50": pytest.approx(numpy.percentile(values, 50)),
        "p95": pytest.approx(numpy.percentile(values, 95)),
        "p99": pytest.approx(numpy.percentile(values, 99)),
    }


@pytest.mark.parametrize("values", [[1.0], [3.0, 1.0], LOAN_RESPONSE, list(range(101)), [0.5, 0.5, 9.0, 2.25]])
@pytest.mark.parametrize("q", [0, 5, 50, 95, 99, 100])
def test_percentile_matches_numpy(values, q):
    assert percentile(values, q) == pytest.approx(numpy.percentile(values, q))


def test_percentile_rejects_bad_input():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_json_overall_per_bot_and_per_provider(samples):
    data = json.loads(run("--format", "json"))
    all_response = LOAN_RESPONSE + RENO_RESPONSE + OLD_RESPONSE
    assert data["unit"] == "ms" and data["count"] == len(all_response) + len(LOAN_ASR)
    assert list(data["overall"]) == ["asr", "response"]  # pipeline order, stages with data only
    assert data["overall"]["response"] == expected(all_response)
    assert data["overall"]["asr"] == expected(LOAN_ASR)
    assert data["by_bot"]["quickrupee-loan"]["response"] == expected(LOAN_RESPONSE + OLD_RESPONSE)
    assert data["by_bot"]["home-renovation"]["response"] == expected(RENO_RESPONSE)
    assert data["by_provider"]["elevenlabs"]["response"] == expected(RENO_RESPONSE)
    assert data["by_provider"]["local-whisper"] == {"asr": expected(LOAN_ASR)}


def test_bot_and_since_filters(samples):
    data = json.loads(run("--format", "json", "--bot", "quickrupee-loan", "--since", "7d"))
    assert data["filters"]["bot"] == "quickrupee-loan" and data["filters"]["since"]
    assert data["overall"]["response"] == expected(LOAN_RESPONSE)
    assert list(data["by_bot"]) == ["quickrupee-loan"]
    only_old = json.loads(run("--format", "json", "--until", "2d"))
    assert only_old["overall"] == {"response": expected(OLD_RESPONSE)}


def test_iso_date_filter(samples):
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    data = json.loads(run("--format", "json", "--since", since))
    assert data["overall"]["response"]["count"] == len(LOAN_RESPONSE + RENO_RESPONSE)


def test_csv_rows(samples):
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv", "--since", "24h"))))
    by_key = {(r["group"], r["name"], r["stage"]): r for r in rows}
    overall = by_key[("overall", "all", "response")]
    values = LOAN_RESPONSE + RENO_RESPONSE
    assert int(overall["count"]) == len(values)
    assert float(overall["p95_ms"]) == pytest.approx(numpy.percentile(values, 95), abs=0.005)
    assert float(overall["p99_ms"]) == pytest.approx(numpy.percentile(values, 99), abs=0.005)
    assert float(by_key[("bot", "home-renovation", "response")]["p50_ms"]) == 700.0
    assert ("provider", "local-whisper", "asr") in by_key


def test_table_is_aligned_with_headings_and_units(samples):
    out = run("--since", "24h")
    lines = out.splitlines()
    assert "All values in milliseconds." in out
    for heading in ("Overall", "By bot", "By provider"):
        assert heading in lines
    header = next(line for line in lines if line.strip().startswith("stage"))
    assert "p50 ms" in header and "p95 ms" in header and "p99 ms" in header
    response_line = next(line for line in lines if line.strip().startswith("response"))
    p95 = f"{numpy.percentile(LOAN_RESPONSE + RENO_RESPONSE, 95):.1f}"
    assert p95 in response_line
    # numbers right-aligned under their headers
    assert response_line.index(p95) + len(p95) == header.index("p95 ms") + len("p95 ms")


def test_empty_data_is_a_clear_message(db):
    assert "No latency samples match" in run()
    err = io.StringIO()
    out = io.StringIO()
    call_command("latency_report", "--format", "json", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["count"] == 0 and "No latency samples" in err.getvalue()


def test_unknown_bot_is_a_command_error(db):
    with pytest.raises(CommandError, match="Unknown bot 'nope'"):
        run("--bot", "nope")


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-45", "10y"])
def test_bad_dates_are_command_errors(bad):
    with pytest.raises(CommandError):
        parse_moment(bad)


def test_relative_and_iso_moments():
    now = timezone.now()
    assert parse_moment("24h", now) == now - timedelta(hours=24)
    assert parse_moment("7d", now) == now - timedelta(days=7)
    assert parse_moment("2025-01-02T03:04:05+00:00").isoformat() == "2025-01-02T03:04:05+00:00"
    assert timezone.is_aware(parse_moment("2025-01-02"))


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot_writes_a_file(samples, tmp_path, suffix):
    target = tmp_path / f"latency.{suffix}"
    run("--plot", str(target))
    assert target.stat().st_size > 1000
    head = target.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in target.read_bytes()


# ---------------------------------------------------------------- mode, channel, percentiles in the database


@pytest.fixture
def modes_and_channels(loan_bot):
    """Hands-free web calls are slower (endpointing) than push-to-talk ones; one phone call."""
    vad = Call.objects.create(bot=loan_bot, mode="vad", channel="web")
    ptt = Call.objects.create(bot=loan_bot, mode="push_to_talk", channel="web")
    phone = Call.objects.create(bot=loan_bot, mode="vad", channel="phone")
    rows = [LatencySample(call=vad, turn=i, stage="response", ms=ms, provider="piper") for i, ms in enumerate(VAD_WEB)]
    rows += [LatencySample(call=ptt, turn=i, stage="response", ms=ms, provider="piper") for i, ms in enumerate(PTT_WEB)]
    rows += [LatencySample(call=phone, turn=i, stage="response", ms=ms, provider="piper") for i, ms in enumerate(VAD_PHONE)]
    LatencySample.objects.bulk_create(rows)


VAD_WEB = [310.0, 330.0, 395.0, 420.0, 610.0]
PTT_WEB = [110.0, 120.0, 180.0, 240.0]
VAD_PHONE = [450.0, 700.0]


def test_split_by_mode_and_channel(modes_and_channels):
    data = json.loads(run("--format", "json"))
    assert data["by_mode"]["vad"]["response"] == expected(VAD_WEB + VAD_PHONE)
    assert data["by_mode"]["push_to_talk"]["response"] == expected(PTT_WEB)
    assert data["by_channel"]["web"]["response"] == expected(VAD_WEB + PTT_WEB)
    assert data["by_channel"]["phone"]["response"] == expected(VAD_PHONE)
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv"))))
    assert {(r["group"], r["name"]) for r in rows} >= {("mode", "vad"), ("mode", "push_to_talk"), ("channel", "phone")}
    table = run()
    assert "By mode" in table.splitlines() and "By channel" in table.splitlines()


def test_mode_filter(modes_and_channels):
    data = json.loads(run("--format", "json", "--mode", "push_to_talk"))
    assert data["filters"]["mode"] == "push_to_talk"
    assert data["overall"]["response"] == expected(PTT_WEB)
    assert list(data["by_mode"]) == ["push_to_talk"]
    with pytest.raises(CommandError):
        run("--mode", "shouting")


def test_percentiles_of_many_samples_match_numpy(loan_bot):
    rng = numpy.random.default_rng(13)
    values = {}
    for mode in ("vad", "push_to_talk"):
        call = Call.objects.create(bot=loan_bot, mode=mode)
        values[mode] = [float(v) for v in numpy.round(rng.lognormal(5.5, 0.6, size=997 if mode == "vad" else 250), 2)]
        LatencySample.objects.bulk_create(
            [LatencySample(call=call, turn=i, stage="response", ms=ms) for i, ms in enumerate(values[mode])]
        )
    data = json.loads(run("--format", "json"))
    for mode in values:
        assert data["by_mode"][mode]["response"] == expected(values[mode])
    assert data["overall"]["response"] == expected(values["vad"] + values["push_to_talk"])
    assert data["by_provider"]["(unknown)"]["response"]["count"] == 997 + 250


def test_percentiles_are_computed_by_the_database(samples):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        run("--format", "json")
    report_sql = [q["sql"] for q in queries.captured_queries if "calls_latencysample" in q["sql"]]
    assert len(report_sql) == 5  # one aggregate per section, not one fetch of every sample
    marker = "percentile_cont" if connection.vendor == "postgresql" else "ROW_NUMBER() OVER"
    assert all(marker in sql and "GROUP BY" in sql for sql in report_sql)
