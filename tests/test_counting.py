"""People counting (lines, zones, buckets), DP releases and their budget, the sinks and `privis counts`."""

import json
import math
import urllib.request
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from privis.analytics.counting import CountConfig, PeopleCounter, count_config, parse_line, parse_zone
from privis.analytics.dp import BudgetExceededError, DpReleaser, raw_values
from privis.analytics.publish import CountPublisher
from privis.analytics.sinks import JsonlSink, SqliteSink
from privis.cli import app
from privis.errors import PrivisError
from privis.regions import Regions

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def person(track, cx, cy, *, seen=True, w=20, h=40):
    """A tracked person whose box's bottom centre is (cx, cy)."""
    return Regions([[cx - w / 2, cy - h, cx + w / 2, cy]], label=["person"], track_id=[track], data={"seen": [seen]})


def walk(counter, track, points, t0=0.0, **kw):
    for k, (x, y) in enumerate(points):
        counter.update(t0 + k, person(track, x, y, **kw))


def totals(counter):
    (bucket,) = counter.close()
    return bucket.totals()


def counter_for(*lines, zones=(), **kw):
    config = CountConfig(lines=tuple(parse_line(x) for x in lines), zones=tuple(parse_zone(z) for z in zones), **kw)
    return PeopleCounter(config, start=T0)


def test_forward_is_left_to_right_for_a_line_drawn_top_to_bottom():
    counter = counter_for("door=100,0,100,200")
    walk(counter, 1, [(50, 150), (80, 150), (120, 150), (150, 150)])  # left to right
    walk(counter, 2, [(150, 150), (120, 150), (80, 150), (50, 150)], t0=10)  # right to left
    assert totals(counter)["lines"] == {"door": {"forward": 1, "backward": 1}}


def test_forward_is_upwards_for_a_line_drawn_left_to_right():
    counter = counter_for("0,100,200,100")  # unnamed: "line"; forward = (y2-y1, x1-x2) = (0, -200): up
    walk(counter, 1, [(100, 150), (100, 120), (100, 80), (100, 50)])
    assert totals(counter)["lines"] == {"line": {"forward": 1, "backward": 0}}


def test_swaying_on_the_line_is_not_a_crossing_and_only_seen_positions_count():
    counter = counter_for("door=100,0,100,200")
    walk(counter, 1, [(70, 150), (95, 150), (104, 150), (96, 150), (105, 150), (92, 150)])  # within 10 px
    walk(counter, 2, [(50, 150), (150, 150)], t0=10, seen=False)  # predicted by the tracker, not seen
    assert totals(counter)["lines"]["door"] == {"forward": 0, "backward": 0}


def test_swaying_over_the_line_and_back_soon_is_taken_back_but_a_step_on_or_a_later_return_counts():
    # 80 px wide, so up to 20 px past the line and back is a sway; frames 0.2 s apart.
    sway = [(80, 150), (115, 150), (118, 150), (112, 150), (88, 150), (85, 150)]  # standing on the line
    step_on = [(80, 150), (115, 150), (160, 150), (120, 150), (85, 150)]  # 60 px past it and back
    later = [(80, 150), (115, 150), *[(116, 150)] * 15, (85, 150)]  # back after 3.2 s
    for points, expected in ((sway, (0, 0)), (step_on, (1, 1)), (later, (1, 1))):
        counter = counter_for("door=100,0,100,200")
        for k, (x, y) in enumerate(points):
            counter.update(k * 0.2, person(1, x, y, w=80))
        assert tuple(totals(counter)["lines"]["door"].values()) == expected, points
    counter = counter_for("door=100,0,100,200", recross_seconds=0)  # 0: every crossing counts
    for k, (x, y) in enumerate(sway):
        counter.update(k * 0.2, person(1, x, y, w=80))
    assert totals(counter)["lines"]["door"] == {"forward": 1, "backward": 1}


def test_passing_beside_the_line_segment_is_not_a_crossing():
    counter = counter_for("door=100,0,100,100")
    walk(counter, 1, [(50, 180), (150, 180)])  # below the segment's end
    assert totals(counter)["lines"]["door"] == {"forward": 0, "backward": 0}


SIZE = (432, 768)  # the frame's (height, width)


def track_boxes(counter, track, boxes, t0=0.0, dt=0.1):
    """Feed one track's seen boxes a frame apart, then frames without it until it is gone."""
    for k, box in enumerate(boxes):
        counter.update(t0 + k * dt, Regions([box], label=["person"], track_id=[track]), SIZE)
    counter.update(t0 + len(boxes) * dt, Regions.empty(), SIZE)


def test_a_person_leaving_through_the_edge_is_carried_over_the_lines_near_it():
    # Walking right at 200 px/s; the box is cut by the right edge and lost with its centre at 670.
    boxes = [[x, 100, min(x + 120, 768), 400] for x in range(500, 580, 20)] + [[580, 100, 768, 400]]
    for size, expected in ((SIZE, 1), (None, 0)):
        counter = counter_for("near=700,0,700,432", "far=760,0,760,432")
        for k, box in enumerate(boxes):
            counter.update(k * 0.1, Regions([box], label=["person"], track_id=[1]), size)
        counter.update(1.0, Regions.empty(), size)
        lines = totals(counter)["lines"]
        assert lines["near"] == {"forward": expected, "backward": 0}
        assert lines["far"] == {"forward": expected, "backward": 0}  # the centre goes out to the edge


def test_a_person_coming_into_view_is_carried_back_over_the_lines_behind_them():
    # Comes in at the bottom edge moving up and right; first seen with its centre at 250.
    boxes = [[200 + 20 * k, 330 - 30 * k, 300 + 20 * k, 432] for k in range(8)]
    counter = counter_for("x200=200,0,200,432", "x240=240,0,240,432", "x320=320,0,320,432")
    track_boxes(counter, 1, boxes)
    lines = totals(counter)["lines"]
    assert lines["x200"] == {"forward": 1, "backward": 0} and lines["x240"] == {"forward": 1, "backward": 0}
    assert lines["x320"] == {"forward": 1, "backward": 0}  # crossed in view, counted once


def test_a_person_coming_in_from_below_came_into_view_where_their_head_did():
    # Seen from above and behind, cut by the bottom: the head (x 270 -> 340) leads and the box
    # reaches far to the right over a shoulder, its middle at 380 when first seen. Carried back,
    # the box's middle stays right of x = 300; the head came into view at x = 217.
    h, w = SIZE
    counter = counter_for("x150=150,0,150,432", "x300=300,0,300,432")
    for k in range(8):
        head, top = 270 + 10 * k, 300 - 25 * k
        mask = np.zeros(SIZE, bool)
        mask[top : top + 30, head - 15 : head + 15] = True  # the head
        mask[top + 30 :, head - 30 : head + 250] = True  # shoulders and back, cut by the bottom
        box = [head - 30, top, head + 250, h]
        counter.update(k / 10, Regions([box], label=["person"], track_id=[1], mask=[mask]), SIZE)
    lines = totals(counter)["lines"]
    assert lines["x300"] == {"forward": 1, "backward": 0}
    assert lines["x150"] == {"forward": 0, "backward": 0}  # the head came in right of it


def test_no_carry_for_a_track_that_starts_or_ends_inside_the_frame():
    boxes = [[200 + 20 * k, 100, 300 + 20 * k, 300] for k in range(8)]  # centre 250 -> 390, away from edges
    counter = counter_for("x220=220,0,220,432", "x420=420,0,420,432")
    track_boxes(counter, 1, boxes)
    assert totals(counter)["lines"] == {"x220": {"forward": 0, "backward": 0}, "x420": {"forward": 0, "backward": 0}}


def test_a_fast_walker_lost_just_short_of_the_edge_is_carried_out_but_one_who_stops_is_not():
    # Frames dropped: the last detection is 60 px short of the right edge, at 300 px/s.
    fast = [[520 + 30 * k, 100, 600 + 30 * k, 400] for k in range(5)]  # last box 640-720: not at the edge
    slow = [[300 + 2 * k, 100, 400 + 2 * k, 400] for k in range(5)]  # nearly standing, mid-frame
    counter = counter_for("x730=730,0,730,432", "x420=420,0,420,432")
    track_boxes(counter, 1, fast)
    track_boxes(counter, 2, slow, t0=5.0)
    lines = totals(counter)["lines"]
    assert lines["x730"] == {"forward": 1, "backward": 0} and lines["x420"] == {"forward": 0, "backward": 0}


def test_one_who_stood_and_then_walked_off_leaves_at_their_walking_pace():
    # Frames dropped to one in four (0.4 s apart): standing at x 400-500 for 1.2 s, then off
    # at 350 px/s and lost 128 px short of the right edge. The mean motion over the last five
    # boxes, standing included, would not take them out of view within 2 s.
    boxes = [[400, 100, 500, 400]] * 4 + [[540, 100, 640, 400]]
    counter = counter_for("x740=740,0,740,432")
    track_boxes(counter, 1, boxes, dt=0.4)
    assert totals(counter)["lines"]["x740"] == {"forward": 1, "backward": 0}


def test_a_crossing_seen_in_view_is_not_counted_again_on_the_way_out():
    boxes = [[600 + 20 * k, 100, min(720 + 20 * k, 768), 400] for k in range(7)]  # centre 660 -> 714, then cut
    counter = counter_for("x680=680,0,680,432")
    track_boxes(counter, 1, boxes)
    assert totals(counter)["lines"]["x680"] == {"forward": 1, "backward": 0}


def test_a_person_lost_behind_something_and_found_again_beyond_it_crosses_once():
    # Walking right at 200 px/s, centre 250 -> 330, lost behind a pillar for 1 s, then found
    # as a new track at 550 -> 630, where the same pace would have taken them (530 -> 610).
    before = [[200 + 20 * k, 100, 300 + 20 * k, 400] for k in range(5)]
    after = [[500 + 20 * k, 100, 600 + 20 * k, 400] for k in range(5)]
    for gap_seconds, expected in ((2.0, 1), (0.0, 0)):
        counter = counter_for("x420=420,0,420,432", gap_seconds=gap_seconds)
        track_boxes(counter, 1, before)
        for k in range(9):
            counter.update(0.5 + k * 0.1, Regions.empty(), SIZE)
        track_boxes(counter, 2, after, t0=1.4)
        assert totals(counter)["lines"]["x420"] == {"forward": expected, "backward": 0}


def test_a_new_track_continues_a_lost_one_only_near_where_it_went_and_soon():
    standing = [[280, 100, 380, 400]] * 5  # centre 330, left of the line, lost standing still
    near = [[340, 100, 440, 400]] * 3  # centre 390: within its size of where it stood
    for t0, expected in ((1.0, 1), (3.0, 0)):  # found 0.6 s or 2.6 s after it was last seen
        counter = counter_for("x360=360,0,360,432")
        track_boxes(counter, 1, standing)
        track_boxes(counter, 2, near, t0=t0)
        assert totals(counter)["lines"]["x360"] == {"forward": expected, "backward": 0}
    # Lost moving right at 200 px/s with its centre at 330: found 1 s later at 130, that is someone else.
    counter = counter_for("x230=230,0,230,432")
    track_boxes(counter, 1, [[200 + 20 * k, 100, 300 + 20 * k, 400] for k in range(5)])
    track_boxes(counter, 2, [[80 - 20 * k, 100, 180 - 20 * k, 400] for k in range(3)], t0=1.4)
    assert totals(counter)["lines"]["x230"] == {"forward": 0, "backward": 0}


def test_zone_occupancy_entries_and_dwell():
    counter = counter_for(zones=["till=0,0,100,0,100,100,0,100"])
    for t in range(10):  # track 1 inside from t=0 to t=5; track 2 inside t=3..9
        regions = []
        if t <= 5:
            regions.append(person(1, 50, 50))
        else:
            regions.append(person(1, 300, 50))
        if t >= 3:
            regions.append(person(2, 60, 60))
        counter.update(float(t), Regions.merge(regions))
    zone = totals(counter)["zones"]["till"]
    assert zone["max_occupancy"] == 2 and zone["entries"] == 2
    assert zone["dwell_count"] == 2 and zone["dwell_seconds"] == pytest.approx(6.0 + 6.0)
    assert zone["mean_occupancy"] == pytest.approx((4 * 1 + 3 * 2 + 3 * 1) / 10)


def test_swaying_at_a_zone_edge_is_one_stay():
    counter = counter_for(zones=["till=0,0,100,0,100,100,0,100"])
    walk(counter, 1, [(150, 50), (95, 50), (104, 50), (96, 50), (108, 50), (97, 50), (130, 50)])  # in, sway, out
    zone = totals(counter)["zones"]["till"]
    assert zone["entries"] == 1 and zone["dwell_count"] == 1 and zone["dwell_seconds"] == 5.0


def test_a_stay_goes_on_while_the_person_is_lost_and_found_again_in_the_zone():
    # Standing in the zone from t = 0 to 0.4 s, unseen (behind a sign) until 1.5 s, found
    # again as a new track on the same spot until 1.9 s: one entry, one stay of 1.9 s. Not
    # found again within gap_seconds, the first stay ended when they were last seen (0.4 s).
    spot = [[300, 100, 340, 200]] * 5  # feet at (320, 200)
    for gap_seconds, stays, seconds in ((2.0, 1, 1.9), (0.5, 2, 0.4 + 0.4)):
        counter = counter_for(zones=["spot=280,150,360,150,360,250,280,250"], gap_seconds=gap_seconds)
        track_boxes(counter, 1, spot)
        for k in range(9):
            counter.update(0.6 + k * 0.1, Regions.empty(), SIZE)
        track_boxes(counter, 2, spot, t0=1.5)
        zone = totals(counter)["zones"]["spot"]
        assert zone["entries"] == stays and zone["dwell_count"] == stays
        assert zone["dwell_seconds"] == pytest.approx(seconds)


def test_buckets_roll_over_with_stream_time():
    counter = counter_for("door=100,0,100,200", bucket_seconds=10)
    done = []
    for t, x in enumerate([50, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 50]):
        done += counter.update(float(t), person(1, x, 150))
    done += counter.close()
    assert [b.start for b in done] == [T0, T0 + timedelta(seconds=10)]
    assert [b.totals()["lines"]["door"] for b in done] == [{"forward": 1, "backward": 0}, {"forward": 0, "backward": 1}]
    assert done[0].complete and not done[1].complete


def test_count_config_from_flags_and_files(tmp_path):
    config = count_config(["0,0,10,10", "10,0,10,10", "door=1,2,3,4"], ["5,5,9,5,9,9"], bucket_seconds=30)
    assert [x.name for x in config.lines] == ["line", "line2", "door"] and config.zones[0].name == "zone"
    assert config.bucket_seconds == 30
    yaml_file = tmp_path / "count.yaml"
    yaml_file.write_text(
        "lines:\n  exit: [560, 0, 560, 432]\nzones:\n  table: [[0, 0], [10, 0], [10, 10]]\nanchor: center\n"
        "recross_seconds: 0\n"
    )
    config = count_config(config_file=yaml_file)
    assert config.lines[0].name == "exit" and config.zones[0].points[1] == (10.0, 0.0) and config.anchor == "center"
    assert config.recross_seconds == 0
    json_file = tmp_path / "count.json"
    json_file.write_text(json.dumps({"lines": {"exit": [1, 2, 3, 4]}, "bucket_seconds": 5}))
    assert count_config(["exit=9,9,9,19"], config_file=json_file).lines[0].x1 == 9.0  # flags win


@pytest.mark.parametrize(
    ("lines", "zones", "message"),
    [((), (), "nothing to count"), (("1,2,3",), (), "4 numbers"), (("a,b,c,d",), (), "in pixels"),
     (("5,5,5,5",), (), "no length"), ((), ("1,2,3,4",), "at least 6")],
)  # fmt: skip
def test_count_config_errors_say_what_is_wrong(lines, zones, message):
    with pytest.raises(PrivisError, match=message):
        count_config(lines, zones)


def one_bucket(forward=3, backward=1, day=T0):
    counter = PeopleCounter(CountConfig(lines=(parse_line("door=100,0,100,200"),)), start=day)
    for track in range(forward):
        walk(counter, track, [(50, 150), (150, 150)], t0=0)
    for track in range(100, 100 + backward):
        walk(counter, track, [(150, 150), (50, 150)], t0=2)
    return counter.close()[0]


@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
def test_dp_noise_has_the_stated_scale(mechanism):
    bucket = one_bucket(forward=3, backward=1)
    releaser = DpReleaser(1e6, epsilon_per_release=0.5, mechanism=mechanism)
    scale = releaser.noise_scale("line", "forward")
    noise = {"forward": [], "backward": []}
    for _ in range(4000):
        for v in releaser.release(bucket):
            assert v.noise_scale == scale and v.mechanism == mechanism
            noise[v.metric].append(v.value - {"forward": 3, "backward": 1}[v.metric])
    sample = np.concatenate([noise["forward"], noise["backward"]])
    if mechanism == "laplace":  # discrete Laplace of scale b: variance 2e^(-1/b) / (1 - e^(-1/b))^2
        q = math.exp(-1 / scale)
        expected = 2 * q / (1 - q) ** 2
        assert scale == pytest.approx(4.0)  # 0.5 split over forward and backward, sensitivity 1
    else:  # discrete Gaussian of scale σ >= 1: variance σ^2 (to well under a percent)
        expected = scale**2
    assert abs(sample.mean()) < 4 * math.sqrt(expected / len(sample))
    assert sample.var() == pytest.approx(expected, rel=0.12)


def test_budget_refuses_the_release_that_would_exceed_it():
    bucket = one_bucket()
    releaser = DpReleaser(1.0, epsilon_per_release=0.4)
    releaser.release(bucket)
    releaser.release(bucket)
    assert releaser.ledger.spent(T0.date())[0] == pytest.approx(0.8)
    with pytest.raises(BudgetExceededError, match="refused"):
        releaser.release(bucket)
    assert releaser.ledger.spent(T0.date())[0] == pytest.approx(0.8)  # nothing charged for the refusal
    releaser.release(one_bucket(day=T0 + timedelta(days=1)))  # a new day, a new budget


def test_the_budget_survives_a_restart_in_the_database(tmp_path):
    bucket = one_bucket()
    for _ in range(2):
        DpReleaser(1.0, epsilon_per_release=0.4, ledger=SqliteSink(tmp_path / "c.sqlite")).release(bucket)
    with pytest.raises(BudgetExceededError):
        DpReleaser(1.0, epsilon_per_release=0.4, ledger=SqliteSink(tmp_path / "c.sqlite")).release(bucket)


def test_with_dp_on_no_raw_count_reaches_a_sink(tmp_path):
    sink = JsonlSink(tmp_path / "c.jsonl")
    config = CountConfig(lines=(parse_line("door=100,0,100,200"),), bucket_seconds=60)
    publisher = CountPublisher(config, [sink], releaser=DpReleaser(0.3, epsilon_per_release=0.2), start=T0)
    for minute in range(3):  # one crossing a minute, three buckets
        for k, x in enumerate([50, 150]):
            publisher.observe(60.0 * minute + k, person(minute, x, 150))
    summary = publisher.close()
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    released = [x for x in lines if "values" in x]
    assert len(released) == 1 and summary["refused"] == 2  # 0.2 + 0.2 > 0.3
    assert all(v["mechanism"] == "laplace" and v["noise_scale"] == 10.0 and v["epsilon"] == pytest.approx(0.1)
               for v in released[0]["values"])  # fmt: skip
    assert sum("refused" in x for x in lines) == 2


def test_counts_command_reads_the_database(tmp_path):
    db = tmp_path / "c.sqlite"
    sink = SqliteSink(db)
    config = CountConfig(lines=(parse_line("100,0,100,200"),), zones=(parse_zone("z=0,0,200,0,200,200"),))
    counter = PeopleCounter(config, start=T0)
    walk(counter, 1, [(50, 150), (150, 150)])
    walk(counter, 2, [(150, 150), (50, 150)], t0=3)
    for bucket in counter.close():
        sink.write(bucket, raw_values(bucket), "cam")
    sink.close()
    csv_file, png = tmp_path / "c.csv", tmp_path / "c.png"
    res = CliRunner().invoke(app, ["counts", "--db", str(db), "--json", "--csv", str(csv_file), "--png", str(png)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["lines"] == {"line": {"forward": 1, "backward": 1}}
    assert summary["zones"]["z"]["max_occupancy"] == 1 and summary["dp"] is False
    assert csv_file.read_text().startswith("bucket_start,") and png.read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(app, ["counts", "--db", str(tmp_path / "none.sqlite")])
    assert res.exit_code != 0 and "not found" in res.output


def test_prometheus_endpoint_serves_the_last_bucket():
    pytest.importorskip("prometheus_client")
    from privis.analytics.sinks import PrometheusSink

    sink = PrometheusSink("127.0.0.1", 0)
    try:
        bucket = one_bucket(forward=2, backward=0)
        sink.write(bucket, raw_values(bucket), "cam")
        body = urllib.request.urlopen(sink.url, timeout=5).read().decode()
    finally:
        sink.close()
    assert 'privis_line_crossings{direction="forward",line="door"} 2.0' in body


def test_stream_count_writes_only_aggregates(tmp_path, monkeypatch):
    """A short synthetic clip through `privis stream --count`: the database is the only file written."""
    import av

    clip = tmp_path / "in" / "clip.mp4"
    clip.parent.mkdir()
    with av.open(str(clip), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        for i in range(20):
            frame = np.full((96, 160, 3), 90 + i, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    res = CliRunner().invoke(app, ["stream", str(clip), "--count", "--line", "80,0,80,96", "--as-fast-as-possible",
                                   "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["frames"] == 20 and report["counts"]["lines"] == {"line": {"forward": 0, "backward": 0}}
    assert sorted(p.name for p in work.iterdir()) == ["privis-counts.sqlite"]


def test_spent_is_per_day():
    releaser = DpReleaser(1.0, epsilon_per_release=1.0)
    releaser.release(one_bucket())
    assert releaser.ledger.spent(date(2026, 3, 3)) == (0.0, 0.0)


def test_preview_overlay_draws_on_a_copy_of_the_frame_only():
    from privis.analytics.publish import draw_counting

    frame = np.zeros((100, 200, 3), np.uint8)
    config = CountConfig(lines=(parse_line("door=100,0,100,100"),), zones=(parse_zone("z=10,10,50,10,50,50"),))
    out = draw_counting(frame, config)
    assert out[50, 100].tolist() == [255, 220, 0] and out[10, 30].tolist() == [0, 200, 255]
    assert not frame.any()


def test_stream_with_dp_prints_only_released_numbers(tmp_path, monkeypatch):
    import av

    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for _ in range(5):
            for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["stream", str(clip), "--line", "32,0,32,48", "--epsilon-per-day", "1",
                                   "--dp-epsilon-per-release", "0.5", "--as-fast-as-possible", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert "regions" not in report and report["counts"]["dp"]["epsilon_per_release"] == 0.5
    rows = __import__("sqlite3").connect(tmp_path / "privis-counts.sqlite").execute(
        "SELECT mechanism, noise_scale, epsilon FROM counts").fetchall()  # fmt: skip
    assert rows and all(r == ("laplace", 4.0, 0.25) for r in rows)


def test_a_line_drawn_to_the_frame_side_goes_on_past_it():
    # Walking down towards the camera and right: the tracker's boxes (held at full size) reach
    # below the picture, so the feet cross x = 740 where the drawn line has already ended.
    boxes = [[560 + 30 * k, 150 + 30 * k, 700 + 30 * k, 420 + 30 * k] for k in range(6)]
    counter = counter_for("full=740,0,740,432", "short=740,0,740,300")
    track_boxes(counter, 1, boxes)
    lines = totals(counter)["lines"]
    assert lines["full"] == {"forward": 1, "backward": 0}  # drawn to the bottom edge: goes on below it
    assert lines["short"] == {"forward": 0, "backward": 0}  # ends mid-frame: passed beneath it
