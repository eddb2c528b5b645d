from mkd.guards.decision import Action, Finding, decide


def test_nothing_found_is_allow_ok():
    d = decide([], "q")
    assert (d.action, d.reason, d.text, d.reasons) == (Action.ALLOW, "ok", "q", ("ok",))


def test_most_severe_action_wins_and_reasons_keep_everything():
    d = decide(
        [
            Finding("pii", "pii.email", Action.REDACT, 5, 9),
            Finding("injection", "injection.override", Action.BLOCK),
        ],
        "t",
    )
    assert d.action is Action.BLOCK and d.reason == "injection.override"
    assert d.reasons == ("injection.override", "pii.email")
    assert not d.allowed


def test_ties_go_to_the_earlier_family_then_position():
    redacts = [
        Finding("limits", "unicode.zero_width", Action.REDACT),
        Finding("pii", "pii.phone", Action.REDACT, 30, 40),
        Finding("pii", "pii.email", Action.REDACT, 2, 10),
    ]
    assert decide(redacts, "t").reason == "pii.email"


def test_log_mode_findings_allow_but_are_kept():
    d = decide([Finding("injection", "injection.override", Action.ALLOW)], "t")
    assert d.action is Action.ALLOW and d.reason == "ok"
    assert "injection.override" in d.reasons


def test_respond_empty_follows_the_primary_finding():
    ood = Finding("domain", "ood", Action.BLOCK, respond_empty=True)
    assert decide([ood], "t").respond_empty
    inj = Finding("injection", "injection.hidden", Action.BLOCK)
    assert not decide([ood, inj], "t").respond_empty


def test_as_dict_carries_no_text():
    d = decide([Finding("pii", "pii.email", Action.REDACT, 0, 5)], "[EMAIL] hi")
    assert "text" not in d.as_dict() and "[EMAIL]" not in str(d.as_dict())
