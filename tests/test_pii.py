import re

import pytest

from privis.errors import PrivisError
from privis.text import Word
from privis.text.pii import entity_boxes, es_dni_ok, find_entities, iban_ok, luhn_ok, nl_bsn_ok, us_ssn_ok


def _types(text, **kw):
    return [(e.type, e.value) for e in find_entities(text, **kw)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe@example.org.", ("EMAIL", "jane.doe@example.org")),
        ("see https://cla.microsoft.com, then", ("URL", "https://cla.microsoft.com")),
        ("call (212) 555-1234 now", ("PHONE", "(212) 555-1234")),
        ("ring +44 20 7946 0958", ("PHONE", "+44 20 7946 0958")),
        ("card 4111-1111-1111-1111 exp", ("CREDIT_CARD", "4111-1111-1111-1111")),
        ("IBAN DE89 3704 0044 0532 0130 00.", ("IBAN", "DE89 3704 0044 0532 0130 00")),
        ("SSN 078-05-1120", ("US_SSN", "078-05-1120")),
        ("NINO AB 12 34 56 C", ("UK_NINO", "AB 12 34 56 C")),
        ("DNI 12345678Z", ("ES_DNI", "12345678Z")),
        ("BSN 111222333", ("NL_BSN", "111222333")),
        ("host 192.168.1.20 up", ("IP_ADDRESS", "192.168.1.20")),
        ("host 2001:db8::1 up", ("IP_ADDRESS_V6", "2001:db8::1")),
        ("born 12 March 1985", ("DATE", "12 March 1985")),
        ("born 1985-03-12", ("DATE", "1985-03-12")),
        ("car AB12 CDE parked", ("LICENSE_PLATE", "AB12 CDE")),
        ("plaque AB-123-CD", ("LICENSE_PLATE", "AB-123-CD")),
        ("Kennzeichen B-AB 1234", ("LICENSE_PLATE", "B-AB 1234")),
        ("kenteken 12-ABC-3", ("LICENSE_PLATE", "12-ABC-3")),
        ("matricula 1234 BCD", ("LICENSE_PLATE", "1234 BCD")),
        ("she lives in New York.", ("LOCATION", "New York")),
        ("DOB 26-Sep-1940", ("DATE", "26-Sep-1940")),
        ("scanned 2024/05/04", ("DATE", "2024/05/04")),
        ("StudyDate 20240606", ("DATE", "20240606")),
        ("Study06/20/2024", ("DATE", "06/20/2024")),
        ("MRN 0042917", ("ID", "0042917")),
        ("Patient ID: PX77310", ("ID", "PX77310")),
        ("Acc# A2024-5512", ("ID", "A2024-5512")),
        ("NGUYEN THI [F]", ("SEX", "[F]")),
        ("Sex: M", ("SEX", "M")),
        ("Age: 045Y", ("AGE", "045Y")),
        ("KLINIKUM NORD", ("INSTITUTION", "KLINIKUM NORD")),
        ("seen at Ospedale San Paolo", ("INSTITUTION", "Ospedale San Paolo")),
        ("RIKSHOSPITALET", ("INSTITUTION", "RIKSHOSPITALET")),
        ("ANKARA SEHIR HASTANEST", ("INSTITUTION", "ANKARA SEHIR HASTANEST")),  # one OCR error
        ("ST ELSEWHERE", ("INSTITUTION", "ST ELSEWHERE")),
        ("Ref: DR. OKAFOR", ("PERSON", "DR. OKAFOR")),
        ("KOWALSKI JAN", ("PERSON", "KOWALSKI JAN")),  # surname first, in capitals
        ("signed Smith, John", ("PERSON", "Smith, John")),
        ("flights from London daily", ("LOCATION", "London")),
    ],
)
def test_each_recognizer_finds_its_entity(text, expected):
    assert _types(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111-1111-1111-1112",  # fails Luhn
        "IBAN DE88 3704 0044 0532 0130 00",  # fails mod 97
        "SSN 666-05-1120 or 078-00-1120",  # never-issued ranges
        "DNI 12345678A",  # wrong check letter
        "BSN 111222334",  # fails the 11-test
        "version 999.1.2.3 and 300.1.1.1",  # not IP addresses
        "order 12-34-56, ISO 9001, COVID-19, A4 paper, RTX-4090",  # not dates or plates
        "The quick brown fox jumps over the lazy dog; order 42 shipped in 3 days.",
        "order 20241345, valid ID required, ID 12, size (mm), item 3(F), page 12 F, at 5 M",  # not IDs, dates, sexes
        "She went to hospital; In Hospital; Smith John",  # no hospital named; surname first needs capitals or a comma
        "DR CHEST PA and MR BRAIN W/O",  # modalities, not titles
    ],
)
def test_lookalikes_and_prose_are_not_entities(text):
    assert _types(text) == []


def test_checksums():
    assert luhn_ok("4111 1111 1111 1111") and not luhn_ok("1234")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert us_ssn_ok("078-05-1120") and not us_ssn_ok("900-05-1120")
    assert es_dni_ok("X1234567L") and not es_dni_ok("X1234567M")
    assert nl_bsn_ok("111222333") and not nl_bsn_ok("000000000")


def test_allow_deny_types_and_overlaps():
    text = "Call 212-555-1234 or the desk at 212-555-0000 about Project Nimbus."
    assert _types(text, allow=["212-555-0000"], entities=["phone"]) == [("PHONE", "212-555-1234")]
    assert ("DENY", "Project Nimbus") in _types(text, deny=["project nimbus"])
    with pytest.raises(PrivisError, match="unknown entity type"):
        find_entities(text, ["PASSPORT_OF_MARS"])


def test_entity_boxes_cover_words_one_box_per_line():
    words = [
        Word("Mail", (0, 0, 40, 10), 1, 0),
        Word("jo@example.com,", (50, 0, 150, 10), 1, 0),
        Word("IBAN", (0, 20, 40, 30), 1, 1),
        Word("DE89", (50, 20, 90, 30), 1, 1),
        Word("3704", (100, 20, 140, 30), 1, 1),
        Word("0044", (150, 20, 190, 30), 1, 1),
        Word("0532", (0, 40, 40, 50), 1, 2),
        Word("0130", (50, 40, 90, 50), 1, 2),
        Word("00", (100, 40, 120, 50), 1, 2),
    ]
    from privis.text import words_text

    text = words_text(words)
    entities = find_entities(text.replace("\n", " "))  # an IBAN broken over two lines
    boxes = [(e.type, box) for e, box in entity_boxes(words, entities, text)]
    assert boxes == [
        ("EMAIL", (50, 0, 150, 10)),
        ("IBAN", (50, 20, 190, 30)),
        ("IBAN", (0, 40, 120, 50)),
    ]


def test_phone_regions_are_configurable():
    text = "Tel. 0151 23456789"
    assert _types(text) == []  # not a US or UK number
    assert _types(text, phone_regions=["DE"]) == [("PHONE", "0151 23456789")]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("This project is created by David Johnson and welcomes", "David Johnson"),
        ("Signed: Anna Maria Garcia-Lopez, 3 June", "Anna Maria Garcia-Lopez"),
        ("Mary O'Brien called", "Mary O'Brien"),
        ("as John F. Kennedy said", "John F. Kennedy"),
        ("ask Dr. Watson first", "Dr. Watson"),
        ("PATIENT: JOHN SMITH", "JOHN SMITH"),
    ],
)
def test_person_names_are_one_entity(text, name):
    assert _types(text, entities=["PERSON"]) == [("PERSON", name)]


def test_ordinary_prose_has_no_personal_data():
    prose = (
        "The committee met on a quiet afternoon to review the budget for the coming year. "
        "Members agreed that the library should extend its opening hours, and that the old "
        "reading room needs new lighting before winter. A short discussion followed about "
        "the garden, which suffered during the dry summer. Everyone thanked the volunteers "
        "for their patience, and the meeting closed with a reminder to return borrowed books."
    )
    assert _types(prose) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("KOWALSKI, JAN\nID: PX77310", "KOWALSKI, JAN"),  # over its ID
        ("OKONKWO CHIDI\nDOB 05/04/1973", "OKONKWO CHIDI"),
        ("HAUGEN^INGRID\nBorn 1940-09-26", "HAUGEN^INGRID"),  # DICOM's caret
        ("Chidi Okonkwo.\nD.O.B. 23.12.1937 [F]", "Chidi Okonkwo."),
        ("MORALES GOMEZ\n07/22/1990 F", "MORALES GOMEZ"),  # a date and a sex letter end the line
    ],
)
def test_a_name_over_or_under_a_line_that_says_whose_data_it_is(text, name):
    from privis.text.pii import context_names

    assert [e.value for e in context_names(text)] == [name]


@pytest.mark.parametrize(
    "text",
    ["The Lung Fields Are Clear\nDOB 12.03.1985", "CHEST PA\nMRN 0042917", "Chest\nID: 7731", "Discharge:\nDOB 1985",
     "Results of the Scan\nID 44120"],
)  # fmt: skip
def test_phrases_and_overlay_words_beside_a_label_are_not_names(text):
    from privis.text.pii import context_names

    assert context_names(text) == []


def test_neighbours_are_the_given_lines_not_the_next_in_text_order():
    from privis.text.pii import context_names

    text = "KOWALSKI JAN\nCITY GENERAL HOSPITAL\nID: PX77310"  # name and ID stacked, the hospital across
    assert context_names(text) == []
    assert [e.value for e in context_names(text, {0: [2], 1: [], 2: [0]})] == ["KOWALSKI JAN"]


# Patients of ten countries, as scanners and forms write them: surname first, capitals, no title.
OVERLAY_NAMES = ["KOWALSKI JAN", "NGUYEN THI MAI", "OKONKWO CHIDI", "SATO YUKI", "MÜLLER JÜRGEN",
                 "GARCÍA LÓPEZ MARÍA", "HAUGEN INGRID", "ÖZTÜRK MEHMET", "PETROVA ANASTASIA", "SILVA JOÃO"]  # fmt: skip
CUES = ["DOB: 12.03.1985", "[F]", "Sex: M", "MRN 0042917", "Patient ID: 88231", "Age: 045Y", "(F)", "D.O.B. 1985",
        "Name: ", "ID: 7731"]  # fmt: skip


@pytest.mark.parametrize(("name", "cue"), list(zip(OVERLAY_NAMES, CUES, strict=True)))
def test_a_name_no_list_knows_is_found_on_a_line_that_says_whose_data_it_is(name, cue):
    from privis.text.pii import context_names

    line = f"{cue} {name}" if cue.endswith(": ") else f"{name}  {cue}"
    assert [e.value for e in context_names(f"ST ELSEWHERE CT\n{line}\n120kV 250mAs")] == [name]


PROSE = """The Annual Report of the Regional Water Board was published on Monday. It covers Budget Planning,
Staff Training, Network Security and the new Customer Portal. The Finance Committee met every Thursday
in the spring. Most Members agreed that the Quarterly Review should move to January. English and French
versions are available. The Board thanks the Volunteers, the Local Libraries and the Youth Orchestra.
Chapter Three describes the Flood Defence Programme. Chapter Four explains Rainwater Harvesting. The
Appendix lists Pumping Stations, Treatment Works and Storage Tanks. Section Two covers Drought Response.
Christmas and Easter closures are listed in Table Five. The Safety Officer reviews the Fire Drill every
April. The Visitor Centre opens on Saturday and Sunday afternoons. Annual Leave requests go to the Human
Resources Office. Please read the Privacy Notice and the Accessibility Statement. The Climate Action
Plan sets targets for Energy Use, Carbon Emissions and Waste Reduction. Wednesday Workshops teach Basic
First Aid, Map Reading and Water Testing. The Science Fair in October welcomed Primary Schools and
Secondary Schools. Our Annual General Meeting follows in November. The Technical Appendix gives Flow
Rates, Pipe Diameters and Pressure Zones. The Heritage Trail passes the Old Mill, the Stone Bridge and
the Victorian Reservoir. The Garden Club plants Wild Flowers along the Canal Path each May. The Spring
Newsletter, the Summer Bulletin and the Winter Digest are sent by Email. Tenders for the Northern Main
Replacement close in March. The Audit Committee approved the Risk Register and the Asset Strategy. Board
Minutes, Agendas and Policies are published Online. The Apprentice Scheme offers Engineering, Laboratory
Science and Customer Service placements. Friday Tours of the Treatment Works run from June to September.
The Water Quality Report compares Lead, Nitrate and Chlorine with National Standards. The Leakage Team
repaired Valves, Hydrants and Service Pipes. The Education Programme reached Scouts, Guides and Cadets.
Overtime Rules, Pension Options and Travel Expenses are explained in the Staff Handbook. The Network
Control Room works Day and Night. Emergency Numbers are printed on the Back Cover. Thank You."""


def test_prose_full_of_capitalized_words_loses_at_most_two():
    from privis.text.pii import context_names, find_entities

    capitalized = re.findall(r"\b[A-Z][a-z]+\b", PROSE)
    assert len(capitalized) >= 200
    hidden = [*find_entities(PROSE.replace("\n", " ")), *context_names(PROSE)]
    words = {w for e in hidden for w in re.findall(r"\b[A-Z][a-z]+\b", e.value)}
    assert len(words) <= 2, hidden


@pytest.mark.parametrize(
    ("text", "places"),
    [("Welcome to Nice weather today", []), ("Glasses for Reading small print", []),
     ("She moved to Nice in 2019.", ["Nice"]), ("Welcome to Nice, the jewel of the Riviera", ["Nice"]),
     ("I went to Boston yesterday", ["Boston"]), ("She moved to New York last year", ["New York"])],
)  # fmt: skip
def test_a_place_name_that_modifies_the_next_word_is_not_a_place(text, places):
    assert [e.value for e in find_entities(text, ["LOCATION"])] == places
