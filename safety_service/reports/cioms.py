"""The CIOMS I form as a PDF: the CIOMS Working Group I boxed layout, field by field, one A4 page a person can fax
(continuation pages only for text that does not fit its box).

Byte-identical for the same data: the creation date is the report's sent_at and nothing else varies. Fonts are
the DejaVu Sans TTFs the AE listing uses (exports/pdf.py), for non-Latin-1 verbatim terms; the check boxes are
the ballot-box glyphs (U+2610, U+2612), so a reader of the text sees which are ticked.
"""
from __future__ import annotations

from datetime import datetime

from fpdf import FPDF

from ..clock import parse_datetime
from ..domain.sae.cioms import CiomsForm, gather
from ..exports.pdf_document import FONT, font_paths

CHECKED, UNCHECKED = "\u2612", "\u2610"
W = 190.0          # printable width (A4 portrait, 10 mm margins)
CAPTION = 5.6      # pt: the printed captions
VALUE = 7.6        # pt: what the service filled in
LINE = 3.3         # mm per value line


def box(flag: bool) -> str:
    return CHECKED if flag else UNCHECKED


class CiomsPDF(FPDF):
    def __init__(self, form: CiomsForm, created):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.form = form
        self.set_creation_date(created)
        self.set_producer("safety-service")
        self.set_title(f"CIOMS I {form.mfr_control_no}")
        self.set_author(form.sponsor[0])
        for style, path in font_paths().items():
            self.add_font(FONT, style, path)
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(auto=False)
        self.overflow: list[tuple[str, list[str]]] = []

    # -- drawing helpers ------------------------------------------------------------------------------------
    def section(self, y: float, title: str) -> float:
        self.set_fill_color(225, 225, 225)
        self.rect(10, y, W, 5, style="DF")
        self.set_xy(11, y + 0.6)
        self.set_font(FONT, "B", 7.5)
        self.cell(W - 2, 3.8, title)
        return y + 5

    def field(self, x: float, y: float, w: float, h: float, caption: str, lines: list[str] | str,
              *, bold: bool = False) -> None:
        """A box with its caption at the top and the value below; text beyond the box goes to a continuation page."""
        self.rect(x, y, w, h)
        self.set_xy(x + 0.8, y + 0.6)
        self.set_font(FONT, "B", CAPTION)
        self.multi_cell(w - 1.6, 2.4, caption, align="L", new_x="LEFT", new_y="NEXT")
        top = self.get_y() + 0.4
        self.set_font(FONT, "B" if bold else "", VALUE)
        wrapped: list[str] = []
        for text in ([lines] if isinstance(lines, str) else lines) or ["none recorded"]:
            wrapped.extend(self.multi_cell(w - 1.6, LINE, text, dry_run=True, output="LINES"))
        room = max(int((y + h - top - 0.5) // LINE), 0)
        shown, rest = (wrapped, []) if len(wrapped) <= room else (wrapped[:room - 1], wrapped[room - 1:])
        if rest:
            shown.append("(continued on the next page)")
            self.overflow.append((caption, rest))
        for i, text in enumerate(shown):
            self.set_xy(x + 0.8, top + i * LINE)
            self.cell(w - 1.6, LINE, text)

    def checks(self, x: float, y: float, w: float, h: float, caption: str, items: list[tuple[str, bool]]) -> None:
        self.rect(x, y, w, h)
        self.set_xy(x + 0.8, y + 0.6)
        self.set_font(FONT, "B", CAPTION)
        self.multi_cell(w - 1.6, 2.4, caption, align="L", new_x="LEFT", new_y="NEXT")
        for label, flag in items:
            self.set_x(x + 0.8)
            self.set_font(FONT, "", 9)
            self.cell(4, 3.8, box(flag))
            self.set_font(FONT, "B" if flag else "", CAPTION + 0.4)
            self.multi_cell(w - 5.6, 2.5, label, align="L", new_x="LEFT", new_y="NEXT")
            self.ln(0.8)

    def choices(self, x: float, y: float, w: float, h: float, caption: str, options: list[str],
                chosen: str, note: str = "", after: str = "") -> None:
        self.rect(x, y, w, h)
        self.set_xy(x + 0.8, y + 0.6)
        self.set_font(FONT, "B", CAPTION)
        self.multi_cell(w - 1.6, 2.4, caption, align="L", new_x="LEFT", new_y="NEXT")
        self.set_x(x + 0.8)
        for option in options:
            self.set_font(FONT, "B" if option == chosen else "", VALUE - 0.6)
            width = self.get_string_width(option) + 2.5
            if self.get_x() + 4 + width > x + w:  # wrap an option that would cross the box's edge
                self.set_xy(x + 0.8, self.get_y() + 3.6)
            self.set_font(FONT, "", 9)
            self.cell(4, 4, box(option == chosen))
            self.set_font(FONT, "B" if option == chosen else "", VALUE - 0.6)
            self.cell(width, 4, option)
        if after:  # e.g. the follow-up number, right after the box it qualifies
            self.set_font(FONT, "B", VALUE)
            self.cell(self.get_string_width(after) + 1, 4, after)
        if note:
            self.set_xy(x + 0.8, self.get_y() + 4.2)
            self.set_font(FONT, "B", VALUE)
            self.cell(w - 1.6, LINE, note)

    # -- the form ---------------------------------------------------------------------------------------------
    def draw(self) -> None:
        f = self.form
        self.add_page()
        self.set_font(FONT, "B", 12)
        self.set_xy(10, 9)
        self.cell(40, 6, "CIOMS FORM")
        self.set_font(FONT, "B", 11)
        self.cell(110, 6, "SUSPECT ADVERSE REACTION REPORT", align="C")
        self.set_font(FONT, "B", 9)
        kind = "INITIAL REPORT" if f.follow_up_number is None else f"FOLLOW-UP No. {f.follow_up_number}"
        self.cell(40, 6, kind, align="R")
        self.set_xy(10, 15)
        self.set_font(FONT, "", 6.5)
        self.cell(W, 3, f"Study {f.study_id}  ·  MFR control no. {f.mfr_control_no}", align="R")

        y = self.section(19, "I. REACTION INFORMATION")
        widths = [(45, "1. PATIENT INITIALS (first, last)", f.patient), (22, "1a. COUNTRY", f.country),
                  (28, "2. DATE OF BIRTH (day month year)", f.birth_date), (14, "2a. AGE Years", f.age),
                  (12, "3. SEX", f.sex), (28, "4-6 REACTION ONSET (day month year)", f.onset)]
        x = 10.0
        for w, caption, value in widths:
            self.field(x, y, w, 13, caption, value, bold=True)
            x += w
        self.checks(x, y, W - (x - 10), 83, "8-12 CHECK ALL APPROPRIATE TO ADVERSE REACTION", [
            ("PATIENT DIED", f.died),
            ("INVOLVED OR PROLONGED INPATIENT HOSPITALISATION", f.hospitalisation),
            ("INVOLVED PERSISTENCE OR SIGNIFICANT DISABILITY OR INCAPACITY", f.disability),
            ("LIFE THREATENING", f.life_threatening),
            ("OTHER: " + (", ".join(f.other_serious) if f.other_serious else "none"), bool(f.other_serious)),
        ])
        self.field(10, y + 13, x - 10, 70, "7 + 13 DESCRIBE REACTION(S) (including relevant tests/lab data)",
                   f.reaction)
        y += 83

        y = self.section(y, "II. SUSPECT DRUG(S) INFORMATION")
        left = W - 48
        self.field(10, y, left, 11, "14. SUSPECT DRUG(S) (include generic name)", f.suspect_drug, bold=True)
        self.choices(10 + left, y, 48, 22, "20. DID REACTION ABATE AFTER STOPPING DRUG?", ["YES", "NO", "NA"],
                     f.abate, "single dose: not applicable")
        self.field(10, y + 11, left / 2, 11, "15. DAILY DOSE(S)", f.daily_dose)
        self.field(10 + left / 2, y + 11, left / 2, 11, "16. ROUTE(S) OF ADMINISTRATION", f.route)
        self.field(10, y + 22, left, 11, "17. INDICATION(S) FOR USE", f.indication)
        self.choices(10 + left, y + 22, 48, 22, "21. DID REACTION REAPPEAR AFTER REINTRODUCTION?",
                     ["YES", "NO", "NA"], f.reappear, "single dose: not applicable")
        self.field(10, y + 33, left / 2, 11, "18. THERAPY DATES (from/to)", f.therapy_dates)
        self.field(10 + left / 2, y + 33, left / 2, 11, "19. THERAPY DURATION", f.therapy_duration)
        y += 44

        y = self.section(y, "III. CONCOMITANT DRUG(S) AND HISTORY")
        self.field(10, y, W, 30, "22. CONCOMITANT DRUG(S) AND DATES OF ADMINISTRATION (exclude those used to treat "
                   "reaction)", f.concomitant)
        self.field(10, y + 30, W, 26, "23. OTHER RELEVANT HISTORY (e.g. diagnostics, allergics, pregnancy with last "
                   "month of period, etc.)", f.history)
        y += 56

        y = self.section(y, "IV. MANUFACTURER INFORMATION")
        half = W / 2
        self.field(10, y, half, 30, "24a. NAME AND ADDRESS OF MANUFACTURER (sponsor)", f.sponsor)
        self.field(10 + half, y, half, 10, "24b. MFR CONTROL NO.", f.mfr_control_no, bold=True)
        self.field(10 + half, y + 10, half / 2, 10, "24c. DATE RECEIVED BY MANUFACTURER", f.date_received)
        self.choices(10 + half + half / 2, y + 10, half / 2, 10, "24d. REPORT SOURCE",
                     ["STUDY", "LITERATURE", "HEALTH PROFESSIONAL"], f.source)
        self.field(10 + half, y + 20, half / 2, 10, "DATE OF THIS REPORT", f.date_of_report)
        self.choices(10 + half + half / 2, y + 20, half / 2, 10, "25a. REPORT TYPE", ["INITIAL", "FOLLOWUP"],
                     f.report_type, after="" if f.follow_up_number is None else f"No. {f.follow_up_number}")
        y += 30
        self.set_xy(10, y + 1.5)
        self.set_font(FONT, "", 5.8)
        self.multi_cell(W, 2.6, f"Made by the trial safety service from {f.mfr_control_no.split('/')[0]} as "
                        f"described in report {f.report_number} (sent {f.extras['sent_at']} UTC to "
                        f"{f.extras['recipient']}). Patient identified by study code and subject ID only.")
        self.continuation()

    def continuation(self) -> None:
        """Text that did not fit its box, under its caption, on following pages."""
        if not self.overflow:
            return
        self.set_auto_page_break(auto=True, margin=12)
        self.add_page()
        self.set_font(FONT, "B", 10)
        self.cell(W, 6, f"CIOMS FORM {self.form.mfr_control_no}: continuation", new_x="LMARGIN", new_y="NEXT")
        for caption, lines in self.overflow:
            self.set_font(FONT, "B", 7)
            self.multi_cell(W, 3.5, caption + " (continued)", new_x="LMARGIN", new_y="NEXT")
            self.set_font(FONT, "", VALUE)
            for text in lines:
                self.multi_cell(W, LINE, text, new_x="LMARGIN", new_y="NEXT")
            self.ln(2)


def render(form: CiomsForm) -> bytes:
    """The form's PDF bytes."""
    pdf = CiomsPDF(form, parse_datetime(form.extras["sent_at"]))
    pdf.draw()
    return bytes(pdf.output())


def for_request(db, ae_id: int, number: int | None, *, user: dict | None, rulebook, tz: str, actor: str,
                now: datetime) -> tuple[bytes, str]:
    """(PDF bytes, file name) of report ``number`` (default the latest) of the AE, the download recorded in the
    audit trail (who, which AE and report, the file's SHA-256) as every export is. Raises NotFound."""
    import hashlib

    from ..exports import service

    form = gather(db, ae_id, number, user=user, rules=rulebook.cioms, study=rulebook.study, tz=tz)
    name = f"CIOMS-{form.mfr_control_no.replace('/', '-R')}.pdf"
    data = render(form)
    done = service.ExportFile(name, "application/pdf", b"", 1, hashlib.sha256(data).hexdigest(),
                              {"ae_id": ae_id, "report_number": form.report_number})
    service.record(db, done, kind="cioms", fmt="pdf", filters={"ae_id": ae_id, "report": number}, actor=actor, now=now)
    return data, name
