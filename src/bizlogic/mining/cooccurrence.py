"""keyword_cooccurrence: frequent keyword sets, class association rules, topic clusters.

Sentiment and label values are added to each text's item set as class items,
so one frequent-itemset pass yields the class association rules (keywords →
sentiment/label). Keywords that go together are reported as topic clusters,
not as keyword → keyword rules: on real text those number in the hundreds of
thousands and say "these words co-occur", which a cluster says once.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from bizlogic.mining.algorithm import algorithm
from bizlogic.mining.contingency import one_hot
from bizlogic.mining.itemsets import (
    Itemsets,
    RuleCounts,
    frequent_itemsets,
    generalisation_counts,
    productive_mask,
    single_consequent_rules,
)
from bizlogic.mining.measures import association_p_values, benjamini_hochberg, rule_measures
from bizlogic.mining.model import AlgorithmOutput, Condition, MiningParams, Pattern
from bizlogic.mining.rulebuild import build_rules, rank_rules
from bizlogic.mining.texts import collapse_texts
from bizlogic.records.dataset import Dataset

NAME = "keyword_cooccurrence"
# Keyword pairs at least this strongly associated (NPMI) link a cluster.
CLUSTER_MIN_NPMI = 0.3
CLUSTER_MIN_SIZE = 3
CLUSTER_MAX_SIZE = 25  # larger components are split at a higher NPMI bar
CLUSTER_STEP = 0.05
MAX_CLUSTERS = 50


def _items(data: Dataset, min_support: int) -> tuple[sp.csr_matrix, list[Condition]]:
    """Frequent keyword columns followed by sentiment and label class columns."""
    counts = np.asarray(data.tokens.sum(axis=0)).ravel()
    keywords = np.flatnonzero(counts >= min_support)
    blocks = [data.tokens[:, keywords]]
    items = [Condition("text", "contains", data.vocab[k]) for k in keywords]
    for field in ("sentiment", "label"):
        column = data.class_column(field)
        if column.categories:
            blocks.append(one_hot(column))
            items.extend(Condition(field, "eq", value) for value in column.categories)
    return sp.hstack(blocks, format="csr", dtype=np.int32), items


def _tested(rules: RuleCounts, is_class: np.ndarray) -> np.ndarray:
    """Indices of candidate rules: keywords in the antecedent, a class item as consequent."""
    ok = is_class[rules.consequents].copy()
    for size, block in enumerate(rules.antecedents, start=1):
        chosen = np.flatnonzero(rules.antecedent_size == size)
        ok[chosen] &= ~is_class[block[rules.index_in_size[chosen]]].any(axis=1)
    return np.flatnonzero(ok)


def rule_p_values(rules: RuleCounts, itemsets: Itemsets, n: int, alpha: float) -> np.ndarray:
    """Association p-value, raised to the worst improvement p-value over each generalisation.

    A rule A → c with |A| ≥ 2 must beat every rule with one item fewer: within
    the records matching G = A∖{x}, records that also contain x must be
    significantly more often c (one-sided Fisher/G test on that 2×2 table).
    Otherwise "refund + box → negative" would ride on "refund → negative".

    Improvement tests run only where the association p-value is ≤ ``alpha``
    (the FDR level): elsewhere the combined p-value is already > alpha, so the
    rule cannot pass, and it ranks behind every rule that can, which keeps the
    BH q-values of all passing rules exact.
    """
    p = association_p_values(n, rules.n_a, rules.n_c, rules.n_ac)
    for size in range(2, len(rules.antecedents) + 1):
        chosen = np.flatnonzero((rules.antecedent_size == size) & (p <= alpha))
        if chosen.size == 0:
            continue
        subset = rules.take(chosen)
        for n_g, n_gc in generalisation_counts(subset, itemsets, size):
            improvement = association_p_values(n_g, subset.n_a, n_gc, subset.n_ac)
            p[chosen] = np.maximum(p[chosen], improvement)
    return p


def mine_rules(data: Dataset, params: MiningParams) -> tuple[list, dict]:
    x, items = _items(data, params.min_support)
    is_class = np.array([c.operator != "contains" for c in items], dtype=bool)
    itemsets = frequent_itemsets(x, params.min_support, params.max_len)
    del x  # peak memory on 10⁶ records: drop what is no longer needed
    candidates = single_consequent_rules(itemsets)
    tested = candidates.take(_tested(candidates, is_class))
    del candidates
    n = len(data)
    p = rule_p_values(tested, itemsets, n, params.max_fdr)
    # One BH family per antecedent size: the few real single-keyword effects
    # must not lower the bar for the huge, mostly null family of combinations.
    q = np.ones_like(p)
    for size in np.unique(tested.antecedent_size):
        family = tested.antecedent_size == size
        q[family] = benjamini_hochberg(p[family])
    passing = np.flatnonzero(
        (tested.n_ac >= params.min_confidence * tested.n_a) & (q <= params.max_fdr)
    )
    chosen = passing[productive_mask(tested.take(passing), itemsets, n)]
    antecedents = [tuple(items[a] for a in tested.antecedent(int(i))) for i in chosen]
    consequents = [items[tested.consequents[i]] for i in chosen]
    rules = build_rules(
        NAME,
        "class_association",
        antecedents,
        consequents,
        n,
        tested.n_a[chosen],
        tested.n_c[chosen],
        tested.n_ac[chosen],
        p[chosen],
        q[chosen],
    )
    # The type names the statement's shape, whichever algorithm found it.
    for rule in rules:
        if len(rule.conditions) == 1 and rule.consequent.field == "sentiment":
            rule.rule_type = "keyword_sentiment"
    stats = {
        "items": len(items),
        "frequent_itemsets": len(itemsets),
        "itemsets_by_size": {
            str(size): int(level.counts.size) for size, level in enumerate(itemsets.levels, 1)
        },
        "rules_tested": len(tested),
        "rules_confident_significant": int(passing.size),
        "rules": len(rules),
    }
    return rank_rules(rules), stats


def _tight_components(
    n_nodes: int, rows: np.ndarray, cols: np.ndarray, npmi: np.ndarray, threshold: float
) -> list[tuple[np.ndarray, float]]:
    """Components of the edges with NPMI ≥ threshold; too large ones split at a higher bar.

    On real text the NPMI graph at one threshold often joins a whole domain
    (1,279 hotel words in one component of the Chinese reviews); raising the
    bar inside such a component by CLUSTER_STEP until its parts have at most
    CLUSTER_MAX_SIZE keywords leaves tight topics. Returns (members, bar used).
    """
    keep = npmi >= threshold
    graph = sp.coo_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), (n_nodes,) * 2)
    n_components, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels, minlength=n_components)
    found = []
    for component in np.flatnonzero(sizes >= CLUSTER_MIN_SIZE):
        members = np.flatnonzero(labels == component)
        if sizes[component] <= CLUSTER_MAX_SIZE:
            found.append((members, threshold))
        elif threshold + CLUSTER_STEP <= 1.0:
            inside = keep & (labels[rows] == component)
            found += _tight_components(
                n_nodes, rows[inside], cols[inside], npmi[inside], threshold + CLUSTER_STEP
            )
    return found


def keyword_clusters(data: Dataset, params: MiningParams) -> list[Pattern]:
    """Tight components of the graph whose edges are keyword pairs with NPMI ≥ threshold."""
    counts = np.asarray(data.tokens.sum(axis=0)).ravel()
    keywords = np.flatnonzero(counts >= params.min_support)
    if keywords.size < CLUSTER_MIN_SIZE:
        return []
    x = data.tokens[:, keywords]
    pairs = sp.triu(x.T @ x, k=1, format="coo")
    strong = pairs.data >= params.min_support
    rows, cols, joint = pairs.row[strong], pairs.col[strong], pairs.data[strong]
    m = rule_measures(len(data), counts[keywords][rows], counts[keywords][cols], joint)
    patterns = []
    for members_index, bar in _tight_components(
        keywords.size, rows, cols, m.npmi, CLUSTER_MIN_NPMI
    ):
        member_set = np.zeros(keywords.size, dtype=bool)
        member_set[members_index] = True
        npmi = m.npmi[member_set[rows] & member_set[cols] & (m.npmi >= bar)]
        members = keywords[members_index]
        order = np.argsort(-counts[members], kind="stable")
        words = [data.vocab[k] for k in members[order]]
        patterns.append(
            Pattern(
                NAME,
                "keyword_cluster",
                "Keywords that tend to appear together: " + ", ".join(words[:8]),
                strength=float(npmi.mean()),
                data={
                    "keywords": words,
                    "counts": [int(c) for c in counts[members[order]]],
                    "edges": int(npmi.size),
                    "mean_npmi": float(npmi.mean()),
                    "min_npmi_threshold": round(bar, 2),
                },
            )
        )
    patterns.sort(key=lambda p: (-p.strength, p.data["keywords"]))
    return patterns[:MAX_CLUSTERS]


@algorithm(NAME)
def keyword_cooccurrence(
    data: Dataset, train_mask: np.ndarray, params: MiningParams
) -> AlgorithmOutput:
    train = collapse_texts(data.take(train_mask))
    rules, stats = mine_rules(train, params)
    clusters = keyword_clusters(collapse_texts(data), params)
    stats["clusters"] = len(clusters)
    stats["n_records"] = len(data)
    stats["transactions"] = len(train)
    return AlgorithmOutput(rules=rules, patterns=clusters, stats=stats)
