from bizlogic.mining.visualization import (
    correlation_matrix,
    insight_dashboard,
    pattern_timeline,
    rule_network,
)


def _rule(rule_id, words, field, value, lift, confidence=0.9, support=10):
    return {
        "id": rule_id,
        "rule_type": "keyword_sentiment",
        "confidence": confidence,
        "lift": lift,
        "support_count": support,
        "conditions": [{"field": "text", "operator": "contains", "value": w} for w in words],
        "consequent": {"field": field, "operator": "eq", "value": value},
    }


RULES = [
    _rule(1, ["refund"], "sentiment", "negative", 3.0),
    _rule(2, ["refund", "late"], "sentiment", "negative", 3.5),
    _rule(3, ["great"], "sentiment", "positive", 1.8),
    _rule(4, ["courier"], "label", "logistics", 4.0),
]


def test_rule_network_nodes_edges_and_degrees():
    network = rule_network(RULES)
    degrees = {n["id"]: n["degree"] for n in network["nodes"]}
    assert degrees == {
        "sentiment:negative": 3,
        "keyword:refund": 2,
        "keyword:late": 1,
        "keyword:great": 1,
        "sentiment:positive": 1,
        "keyword:courier": 1,
        "label:logistics": 1,
    }
    assert network["nodes"][0]["id"] == "sentiment:negative"
    assert len(network["edges"]) == 5
    assert {(e["source"], e["rule_id"]) for e in network["edges"] if e["rule_id"] == 2} == {
        ("keyword:refund", 2),
        ("keyword:late", 2),
    }


def test_correlation_matrix_uses_single_keyword_rules():
    matrix = correlation_matrix(RULES)
    assert matrix["rows"] == ["courier", "great", "refund"]
    assert matrix["columns"] == ["label=logistics", "sentiment=negative", "sentiment=positive"]
    assert matrix["lift"] == [[4.0, None, None], [None, None, 1.8], [None, 3.0, None]]


def test_pattern_timeline_orders_dated_findings():
    patterns = [
        {
            "pattern_type": "change_point",
            "description": "b",
            "strength": 0.2,
            "data": {"date": "2026-03-16"},
        },
        {
            "pattern_type": "volume_trend",
            "description": "a",
            "strength": 0.3,
            "data": {"start": "2026-01-05", "end": "2026-05-04"},
        },
        {"pattern_type": "keyword_cluster", "description": "x", "strength": 0.5, "data": {}},
    ]
    events = pattern_timeline(patterns)["events"]
    assert [(e["date"], e["type"], e["end"]) for e in events] == [
        ("2026-01-05", "volume_trend", "2026-05-04"),
        ("2026-03-16", "change_point", None),
    ]


def test_insight_dashboard_counts_and_histogram():
    insights = [
        {
            "id": 1,
            "insight_type": "trend_insight",
            "title": "t1",
            "impact_score": 0.9,
            "acknowledged": False,
        },
        {
            "id": 2,
            "insight_type": "trend_insight",
            "title": "t2",
            "impact_score": 0.1,
            "acknowledged": True,
        },
        {
            "id": 3,
            "insight_type": "quality_insight",
            "title": "q",
            "impact_score": 1.0,
            "acknowledged": False,
        },
    ]
    board = insight_dashboard(insights)
    assert board["by_type"] == {"quality_insight": 1, "trend_insight": 2}
    assert (board["total"], board["acknowledged"]) == (3, 1)
    assert board["impact_histogram"]["counts"] == [1, 0, 0, 0, 2]
    assert [i["id"] for i in board["top_open"]] == [3, 1]
