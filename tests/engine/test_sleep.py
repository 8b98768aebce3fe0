"""Sleep state and action sleeps; long sleeps run on the time-skipping server."""

from .builders import definition


def test_short_sleep_passes_data_through(engine):
    doc = definition(
        {"name": "Nap", "type": "sleep", "duration": "PT0.2S", "transition": "After"},
        {"name": "After", "type": "inject", "data": {"woke": True}, "end": True},
    )
    assert engine.execute(doc, {"a": 1}) == {"a": 1, "woke": True}


def test_three_day_sleep_and_action_sleeps_on_the_time_skipping_server(skipping):
    # given a 3-day sleep state and an action sleeping before and after
    doc = definition(
        {"name": "Nap", "type": "sleep", "duration": "P3D", "transition": "Act"},
        {
            "name": "Act",
            "type": "operation",
            "actions": [{"functionRef": "mark", "sleep": {"before": "PT1H", "after": "PT2H"}}],
            "end": True,
        },
        functions=[{"name": "mark", "type": "expression", "operation": "{marked: true}"}],
    )
    # when
    started = skipping.start(doc, {})
    # then it completes, and the long sleep was reported as waiting
    assert skipping.result(started) == {"marked": True}
    statuses = [c.status for c in skipping.recorder.changes[started.instance_id]]
    assert statuses == ["waiting", "running", "completed"]
