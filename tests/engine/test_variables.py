"""$CONST, $SECRETS and $ENVS in expressions; fn: references to expression functions."""

from .builders import definition, operation


def test_const_secrets_and_envs_are_readable_in_expressions(engine):
    # given a definition with constants, secrets and envs
    doc = definition(
        operation(
            "Read",
            {
                "functionRef": {
                    "refName": "echo",
                    "arguments": {
                        "dog": "${ $CONST.Translations.Dog.Spanish }",
                        "password": "${ $SECRETS.MY_PASSWORD }",
                        "region": "${ $ENVS.REGION }",
                    },
                }
            },
        ),
        constants={"Translations": {"Dog": {"Serbian": "pas", "Spanish": "perro"}}},
        secrets=["MY_PASSWORD"],
        envs=["REGION"],
        functions=[{"name": "echo", "type": "expression", "operation": "{dog, password, region}"}],
    )
    # when
    out = engine.execute(doc, {}, envs={"REGION": "eu-1"}, secrets={"MY_PASSWORD": "s3cret"})
    # then
    assert out == {"dog": "perro", "password": "s3cret", "region": "eu-1"}


def test_expression_functions_use_constants_and_nest(engine):
    doc = definition(
        {
            "name": "Check",
            "type": "switch",
            "dataConditions": [
                {"condition": "${ fn:isAdult and fn:isNamed }", "transition": "Adult"}
            ],
            "defaultCondition": {"transition": "Minor"},
        },
        {"name": "Adult", "type": "inject", "data": {"adult": True}, "end": True},
        {"name": "Minor", "type": "inject", "data": {"adult": False}, "end": True},
        constants={"AGE": {"MIN_ADULT": 18}},
        functions=[
            {
                "name": "isAdult",
                "type": "expression",
                "operation": ".applicant | .age >= $CONST.AGE.MIN_ADULT",
            },
            {"name": "isNamed", "type": "expression", "operation": "fn:hasName"},
            {"name": "hasName", "type": "expression", "operation": ".applicant.name != null"},
        ],
    )
    assert engine.execute(doc, {"applicant": {"age": 20, "name": "x"}})["adult"] is True
    assert engine.execute(doc, {"applicant": {"age": 20}})["adult"] is False


def test_function_auth_is_resolved_with_secrets_for_the_activity(engine):
    # given a REST function whose bearer token is a secret
    engine.services.add("secure", {"ok": True})
    doc = definition(
        operation("Call", {"functionRef": "secure"}),
        functions=[{"name": "secure", "operation": "http://x/api.json#secure", "authRef": "api"}],
        auth=[{"name": "api", "scheme": "bearer", "properties": {"token": "${ $SECRETS.TOKEN }"}}],
        secrets=["TOKEN"],
    )
    # when
    started = engine.start(doc, {}, secrets={"TOKEN": "t-123"})
    engine.result(started)
    # then the activity received the resolved auth definition
    call = engine.recorder.calls[started.instance_id][0]
    assert call.auth == {"name": "api", "scheme": "bearer", "properties": {"token": "t-123"}}
    assert call.function["name"] == "secure" and call.state == "Call"
