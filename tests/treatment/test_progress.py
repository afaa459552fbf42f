"""My progress and the staff's chart (SPEC 4.3): server-drawn SVG that is well-formed, has a
title and a description, plots exactly what its table says, and stays sensible from 1 to 50
sessions; the plain sentence about the change; the worklist (SPEC 5.1)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from portal import clock
from portal.clinic.worklist import services as worklist
from portal.extensions import db
from portal.models import SafetyReport
from portal.treatment import charts, services
from tests.factories import make_patient
from tests.markup import parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import history, make_treatable, rate, record


def svgs(html: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed as XML (so each must be well-formed)."""
    return [ET.fromstring(match) for match in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def chart_svg(html: str, chart_id: str) -> ET.Element:
    for svg in svgs(html):
        if chart_id in (svg.get("aria-labelledby") or ""):
            return svg
    raise AssertionError(f"no chart {chart_id}")


def table_values(html: str, table_id: str) -> tuple[float | None, list[tuple[int, float]]]:
    """(baseline, [(session number, value)]) read from the table beside the chart."""
    doc = parse(html)
    table = doc.by_id(table_id)
    assert table is not None, table_id
    baseline, rows = None, []
    for row in next(e for e in table.children if e.tag == "tbody").children:
        cells = row.children
        value = float(cells[2].attrs["data-value"])
        label = cells[0].text.strip()
        if "chart-table__baseline" in (row.attrs.get("class") or ""):
            baseline = value
        else:
            rows.append((int(label), value))
    return baseline, rows


def plotted(svg: ET.Element) -> tuple[float | None, list[tuple[int, float]]]:
    """(baseline, [(session number, value)]) read back from the drawing's coordinates."""
    chart = charts.Chart("x", 10, [])
    base_line = svg.find(".//{*}line[@class='chart__baseline']")
    if base_line is None:
        base_line = svg.find(".//line[@class='chart__baseline']")
    baseline = None
    if base_line is not None:
        assert base_line.get("y1") == base_line.get("y2")
        baseline = round(chart.value_for(float(base_line.get("y1"))), 6)
    points = []
    for circle in svg.iter():
        if circle.tag.endswith("circle"):
            value = round(chart.value_for(float(circle.get("cy"))), 6)
            assert value == pytest.approx(float(circle.get("data-value")))
            points.append((int(circle.get("data-session")), value))
    return baseline, points


def check_chart(html: str, chart_id: str, table_id: str, count: int):
    svg = chart_svg(html, chart_id)
    assert svg.get("viewBox") and svg.get("width") == "100%" and svg.get("role") == "img"
    assert "style" not in svg.attrib and not any("style" in e.attrib for e in svg.iter())
    title = [e for e in svg if e.tag.endswith("title")]
    desc = [e for e in svg if e.tag.endswith("desc")]
    assert title and title[0].text.strip() and desc and desc[0].text.strip()
    assert svg.get("aria-labelledby") == f"{title[0].get('id')} {desc[0].get('id')}"
    base_plot, points = plotted(svg)
    base_table, rows = table_values(html, table_id)
    assert len(points) == len(rows) == count
    assert [(n, pytest.approx(v)) for n, v in rows] == points
    assert (base_plot is None) == (base_table is None)
    if base_plot is not None:
        assert base_plot == pytest.approx(base_table)
    # Everything drawn is inside the viewBox.
    _x, _y, width, height = map(float, svg.get("viewBox").split())
    for e in svg.iter():
        for attr in ("x", "cx", "x1", "x2"):
            if e.get(attr) is not None:
                assert 0 <= float(e.get(attr)) <= width
        for attr in ("y", "cy", "y1", "y2"):
            if e.get(attr) is not None:
                assert 0 <= float(e.get(attr)) <= height
    return svg


@pytest.mark.parametrize("values", [[5], [6, 4], [7, 6, 6, 5, 4, 4, 3, 3, 2, 2, 3, 2] * 4 + [2, 1]])
def test_progress_chart_matches_its_table(app, values):
    user = make_treatable(baseline=7)
    history(user, values)
    client = signed_in(app, user)
    html = client.get("/me/progress").get_data(as_text=True)
    svg = check_chart(html, "my-nprs", "my-nprs-table", len(values))
    ticks = [e for e in svg.iter() if e.tag.endswith("g") and e.get("class") == "chart__x-ticks"]
    labels = [t.text for t in ticks[0]]
    assert 1 <= len(labels) <= charts.MAX_X_LABELS + 1
    assert labels[-1] == str(len(values)) and labels[0] == "1"
    lines = [e for e in svg.iter() if e.tag.endswith("polyline")]
    assert len(lines) == (1 if len(values) > 1 else 0)
    if len(values) >= 3:
        # Every third session re-rated the activities: the PSFS chart has those points.
        check_chart(html, "my-psfs", "my-psfs-table", len(values) // 3)


def test_the_sentence_about_the_change(app):
    user = make_treatable(baseline=7)
    history(user, [6, 4])
    client = signed_in(app, user)
    html = client.get("/me/progress").get_data(as_text=True)
    assert "Your pain is 3 points lower than when you started (\u221243%)." in html


CALM = "Your pain has been higher lately. Your practitioner will look at this with you."


@pytest.mark.parametrize("baseline, values, sentence", [
    (4, [5], CALM),
    (5, [5], "Your pain is the same as when you started (5 out of 10)."),
    (0, [3], CALM),
    (None, [4], "Your latest pain rating is 4 out of 10."),
    (6, [], "Your chart will appear here once you have rated a session."),
])
def test_sentences(app, baseline, values, sentence):
    user = make_treatable(baseline=baseline) if baseline is not None else \
        make_treatable(baseline=None)
    if values:
        history(user, values)
    html = signed_in(app, user).get("/me/progress").get_data(as_text=True)
    assert sentence in html


RISE = {
    "en": (CALM, "Your latest rating is 6 out of 10; it was 4 when you started."),
    "fr_CA": ("Votre douleur a été plus forte ces derniers temps. Votre praticien en parlera "
              "avec vous.",
              "Votre dernière note est de 6 sur 10; elle était de 4 au début."),
}


@pytest.mark.parametrize("locale", ["en", "fr_CA"])
def test_a_rise_in_pain_is_said_calmly_with_its_numbers(app, locale):
    """A patient whose pain rose reads what happens next, not a verdict; the numbers
    follow, without "worse" or a percentage (issue 15)."""
    user = make_treatable(baseline=4, locale=locale)
    history(user, [5, 6])
    doc = parse(signed_in(app, user).get("/me/progress").get_data(as_text=True))
    headline, detail = RISE[locale]
    assert doc.find_all("p", class_="lead change-sentence")[0].text.strip() == headline
    assert doc.find_all("p", class_="change-detail")[0].text.strip() == detail
    words = (headline + detail).lower()
    assert "worse" not in words and "pire" not in words and "%" not in words


def test_no_detail_line_when_pain_is_lower(app):
    user = make_treatable(baseline=7)
    history(user, [6, 4])
    doc = parse(signed_in(app, user).get("/me/progress").get_data(as_text=True))
    assert not doc.find_all("p", class_="change-detail")


def _better(html: str) -> list[tuple[str, str]]:
    """Each chart's "which way is better" line: (data-better, its words)."""
    return [(p.attrs["data-better"], p.text.replace("\u2193", "").replace("\u2191", "").strip())
            for p in parse(html).find_all("p", class_="chart__better")]


@pytest.mark.parametrize("locale, lower, higher", [
    ("en", "Lower is better", "Higher is better"),
    ("fr_CA", "Plus bas, c'est mieux", "Plus haut, c'est mieux"),
])
def test_each_chart_says_which_way_is_better(app, doctor, locale, lower, higher):
    """Pain: lower is better; activities: higher is better; on the patient's progress page
    and on the chart's ratings tab."""
    user = make_treatable(baseline=7, locale=locale)
    history(user, [6, 5, 4], practitioner=doctor)
    mine = signed_in(app, user).get("/me/progress").get_data(as_text=True)
    assert _better(mine) == [("lower", lower), ("higher", higher)]
    doctor.locale = locale
    db.session.commit()
    staff = signed_in(app, doctor).get(
        f"/clinic/patients/{user.patient.public_id}/ratings").get_data(as_text=True)
    assert _better(staff) == [("lower", lower), ("higher", higher)]


def test_the_chart_moves_when_a_session_is_rated(app, patient, patient_client, doctor):
    history(patient, [6])
    before = patient_client.get("/me/progress").get_data(as_text=True)
    check_chart(before, "my-nprs", "my-nprs-table", 1)
    session = record(patient, doctor)
    rate(session, 3)
    after = patient_client.get("/me/progress").get_data(as_text=True)
    check_chart(after, "my-nprs", "my-nprs-table", 2)
    assert "Your pain is 3 points lower" in after


def test_the_practitioner_override_baseline(app, doctor_client, doctor, patient):
    history(patient, [5])
    url = f"/clinic/patients/{patient.patient.public_id}/baseline"
    assert doctor_client.post(url, data={"baseline": "8", "baseline_reason": ""}
                              ).status_code == 422
    assert doctor_client.post(url, data={"baseline": "8", "baseline_reason":
                                         "Intake week was unusually good."}).status_code == 303
    base = services.baseline_for(patient.patient)
    assert (base.value, base.source) == (8, "override")
    html = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/sessions"
                             ).get_data(as_text=True)
    check_chart(html, "staff-nprs", "staff-nprs-table", 1)
    assert "Meaningful improvement" in html  # 8 -> 5: 3 points, 37.5%
    # Back to the intake's (6): 6 -> 5 is no meaningful change.
    assert doctor_client.post(url, data={"baseline": "", "baseline_reason": ""}
                              ).status_code == 303
    db.session.expire_all()
    assert services.baseline_for(patient.patient).value == 6
    from sqlalchemy import select

    from portal.models import AuditEvent, TreatmentOutcome
    actions = list(db.session.scalars(select(AuditEvent.action)
                                      .where(AuditEvent.action.like("baseline.%"))
                                      .order_by(AuditEvent.id)))
    assert actions == ["baseline.set", "baseline.cleared"]
    db.session.expire_all()
    assert db.session.scalar(select(TreatmentOutcome.status)) == "unchanged"


def test_staff_sessions_page_marks_overdue_ratings(app, doctor_client, doctor, patient):
    rate(record(patient, doctor, hours_ago=50), 4)
    old = record(patient, doctor, hours_ago=30)
    # The rating opens a day after the session; a day after that, it is overdue.
    clock.advance(hours=25)
    html = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/sessions"
                             ).get_data(as_text=True)
    assert "Rating overdue" in html and "Rated" in html
    assert f'id="session-{old.public_id}"' in html
    check_chart(html, "staff-nprs", "staff-nprs-table", 1)


def test_worklist_lists_safety_first_then_outcomes(app, doctor, doctor_client):
    worse = make_treatable(name="Wendy Worse", baseline=4)
    history(worse, [4, 6])
    better = make_treatable(name="Ivan Improved", baseline=8)
    history(better, [6, 4])
    overdue = make_treatable(name="Olga Overdue")
    record(overdue, doctor, hours_ago=26)
    clock.advance(hours=25)
    flagged = make_treatable(name="Sam Safety")
    rate(record(flagged, doctor, hours_ago=27), 5, breathing=True)
    html = doctor_client.get("/clinic/").get_data(as_text=True)
    doc = parse(html)
    headings = [e.text.strip() for e in doc.find_all("h2")]
    assert headings[0].startswith("Red flags")
    assert "Safety check after needling" in doc.by_id("red-flags").text
    for section_id, name in (("red-flags", "Sam Safety"), ("worsening", "Wendy Worse"),
                             ("ratings-overdue", "Olga Overdue"), ("improved", "Ivan Improved")):
        section = doc.by_id(section_id)
        assert section is not None and name in section.text, section_id
    assert "Wendy Worse" not in doc.by_id("improved").text
    # Acknowledging the alert takes it off the worklist.
    report = db.session.scalar(select(SafetyReport).where(SafetyReport.alert.is_(True)))
    response = doctor_client.post(f"/clinic/safety/{report.public_id}/acknowledge",
                                  data={f"ack-{report.public_id}-note": "Called, all well."})
    assert response.status_code == 303
    assert worklist.counts()["safety_alerts"] == 0
    after = parse(doctor_client.get("/clinic/").get_data(as_text=True))
    assert "Sam Safety" not in after.by_id("red-flags").text


def test_worklist_counts(app, doctor):
    for values in ([6, 8], [5, 3], [5, 3]):
        history(make_treatable(baseline=5), values)
    sections = worklist.build(worklist.Scope("all", 0))
    data = {key: section.count for key, section in sections.items()}
    assert data["worsening"] == 1 and data["improved"] == 2
    assert data["ratings-overdue"] == 0 and worklist.counts()["safety_alerts"] == 0


def test_progress_for_a_patient_without_anything(app):
    user = make_patient()
    html = signed_in(app, user).get("/me/progress").get_data(as_text=True)
    assert "Your chart will appear here" in html and "<svg" not in html
