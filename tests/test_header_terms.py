"""A DICOM header's identifying values, found where a viewer burned them into the pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.cli import app
from privis.text.header_terms import Term, date_forms, find_terms, header_terms, name_forms

pydicom = pytest.importorskip("pydicom")
runner = CliRunner()


def _dataset(**values: str):  # noqa: ANN202 - a pydicom Dataset
    ds = pydicom.Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


@pytest.mark.parametrize(
    ("name", "shown"),
    [("KOWALSKI^JAN", "KOWALSKI JAN"), ("NGUYEN^THI^MAI", "Thi Mai Nguyen"), ("Müller^Jürgen", "MÜLLER, JÜRGEN"),
     ("OKONKWO^CHIDI", "C. OKONKWO"), ("SATO^YUKI", "SATO^YUKI"), ("GARCÍA LÓPEZ^MARÍA", "GARCÍA LÓPEZ MARÍA")],
)  # fmt: skip
def test_a_patient_name_is_found_in_the_forms_viewers_write(name, shown):
    terms = header_terms(_dataset(PatientName=name))
    found = find_terms(f"Pt {shown}  ACC 123", terms)
    assert [e.value for e in found] == [shown] and found[0].type == "PERSON"


def test_ocr_errors_are_forgiven_in_proportion_to_length():
    terms = header_terms(_dataset(PatientName="KOWALSKI^JAN", PatientID="MRN-0042917"))
    assert [e.value for e in find_terms("KOWALSK1 JAN  ID MRN-OO42917", terms)] == ["KOWALSK1 JAN", "MRN-OO42917"]
    assert find_terms("JAM", [Term("PERSON", "JAN")]) == []  # three letters: exact only


@pytest.mark.parametrize("shown", ["12.03.1985", "03/12/1985", "1985-03-12", "12-Mar-1985", "12/03/85", "19850312"])
def test_a_date_is_found_in_every_common_form(shown):
    terms = header_terms(_dataset(PatientBirthDate="19850312"))
    assert [e.type for e in find_terms(f"DOB {shown}", terms)] == ["DATE"]


def test_header_values_are_typed_as_the_recognizers_type_them():
    # `--entities DATE` keeps the header's dates too: a term is kept only when its type is chosen.
    from privis.text.pii import RECOGNIZERS

    ds = _dataset(PatientName="KOWALSKI^JAN", PatientID="MRN-0042917", PatientBirthDate="19850312",
                  InstitutionName="St Olav Hospital", PatientSex="F", PatientAge="040Y")  # fmt: skip
    types = {t.entity for t in header_terms(ds)}
    assert types == {"PERSON", "ID", "DATE", "INSTITUTION", "SEX", "AGE"}
    assert types <= set(RECOGNIZERS)


def test_sex_marker_and_age_but_not_ordinary_words():
    terms = header_terms(_dataset(PatientName="NGUYEN^THI", PatientSex="F", PatientAge="045Y", StudyDate="20240105"))
    text = "NGUYEN THI [F] 45Y\nL  R  120 kV  250 mAs  10 cm\nThe film shows a clear view of the left lung fields."
    found = {e.value for e in find_terms(text, terms)}
    assert found == {"NGUYEN THI", "[F]", "45Y"}
    assert "THI" in name_forms("NGUYEN^THI") and date_forms("bad") == ["bad"]


def _scan(path, name: str, lines: list[str]):  # noqa: ANN202
    """A 12-bit CT-like frame with an overlay of `lines` in its corner, its header naming `name`."""
    from privis.audit.dicom_set import save_scan
    from tests.conftest import text_page

    page, _ = text_page(lines, size=(900, 300))
    save_scan(path, 255 - page[..., 0], {"PatientName": name, "PatientID": "PX77310"}, modality="CT", bits=12)


def test_redact_text_hides_a_name_the_census_rule_does_not_know_because_the_header_names_it(tmp_path):
    from tests.conftest import skip_without_tesseract

    skip_without_tesseract()
    src = tmp_path / "scan.dcm"
    _scan(src, "WOJCIECHOWSKA^AGNIESZKA", ["WOJCIECHOWSKA AGNIESZKA", "L   120 kV"])
    res = runner.invoke(app, ["redact-text", str(src), "--ocr", "tesseract", "--text", "pii", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["by_entity"].get("PERSON") == 1
    before = pydicom.dcmread(src).pixel_array
    after = pydicom.dcmread(tmp_path / "scan_redacted.dcm").pixel_array
    rows = np.flatnonzero(before.max(axis=1) > 0)
    first_line = rows[rows < rows.min() + 60]  # the name's line
    assert (before[first_line] != after[first_line]).any(axis=1).mean() > 0.5


def test_by_default_a_dicom_overlay_loses_every_word_but_markers_and_acquisition_values(tmp_path):
    from tests.conftest import skip_without_tesseract

    skip_without_tesseract()
    src = tmp_path / "scan.dcm"
    _scan(src, "DOE^JANE", ["Accession 4471 Ward B", "L   120kV   250mAs"])
    res = runner.invoke(app, ["redact-text", str(src), "--ocr", "tesseract", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["by_entity"] == {"TEXT": 4}  # Accession, 4471, Ward, B
    before = pydicom.dcmread(src).pixel_array
    after = pydicom.dcmread(tmp_path / "scan_redacted.dcm").pixel_array
    rows = np.flatnonzero(before.max(axis=1) > 0)
    lower = rows[rows > rows.min() + 60]  # the markers' line stays as it was
    assert (before[lower] == after[lower]).all()


def test_the_medical_preset_hides_all_burned_in_text_in_plain_images_too(tmp_path):
    from PIL import Image

    from tests.conftest import skip_without_tesseract, text_page

    skip_without_tesseract()
    page, _ = text_page(["Ward B  Bed 4", "R   5cm"], size=(700, 220))
    Image.fromarray(page).save(tmp_path / "xray.png")
    plain = runner.invoke(app, ["redact-text", str(tmp_path / "xray.png"), "--ocr", "tesseract", "--json", "-q"])
    assert json.loads(plain.stdout)["by_entity"] == {}  # no personal data the recognizers know
    res = runner.invoke(app, ["redact-text", str(tmp_path / "xray.png"), "--ocr", "tesseract", "--preset", "medical",
                              "--json", "-q", "--overwrite"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["by_entity"] == {"TEXT": 4}  # Ward, B, Bed, 4; R and 5cm stay
