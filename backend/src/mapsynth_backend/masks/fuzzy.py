"""The fuzzy inference system that turns building evidence into a non-residential degree in [0, 1].

Built with scikit-fuzzy's control API (Mamdani: min for AND, max aggregation, centroid defuzzification). The
membership functions and the rule base below are the documented contract (docs/MASKS.md is generated from them
by ``describe()``). Explicit tags do not go through it: they dominate (degree 0 or 1).
"""

from __future__ import annotations

import numpy as np

# (variable, universe (start, stop, points), {term: (function, parameters)})
ANTECEDENTS = (
    (
        "nonres_share",
        (0.0, 1.0, 101),
        {"low": ("trimf", (0, 0, 0.3)), "medium": ("trimf", (0.1, 0.5, 0.9)), "high": ("trimf", (0.5, 1, 1))},
    ),
    ("res_share", (0.0, 1.0, 101), {"low": ("trimf", (0, 0, 0.5)), "high": ("trimf", (0.3, 1, 1))}),
    (
        "nonres_distance_m",
        (0.0, 500.0, 251),
        {"near": ("trapmf", (0, 0, 20, 80)), "far": ("trapmf", (50, 200, 500, 500))},
    ),
    (
        "pois",
        (0.0, 5.0, 51),
        {"none": ("trimf", (0, 0, 1)), "some": ("trimf", (0, 1, 3)), "many": ("trapmf", (2, 4, 5, 5))},
    ),
    (
        "log_area",
        (0.0, 6.0, 121),
        {
            "tiny": ("trapmf", (0, 0, 1.3, 1.6)),
            "small": ("trapmf", (1.3, 1.6, 2.0, 2.3)),
            "medium": ("trimf", (2.0, 2.5, 3.0)),
            "large": ("trimf", (2.7, 3.2, 3.7)),
            "huge": ("trapmf", (3.4, 4.0, 6, 6)),
        },
    ),
    (
        "elongation",
        (1.0, 10.0, 91),
        {"compact": ("trapmf", (1, 1, 1.5, 2.5)), "elongated": ("trapmf", (1.8, 3.5, 10, 10))},
    ),
    ("density_per_ha", (0.0, 60.0, 121), {"low": ("trapmf", (0, 0, 8, 15)), "high": ("trapmf", (10, 25, 60, 60))}),
)
CONSEQUENT = (
    "nonres",
    (0.0, 1.0, 101),
    {"low": ("trimf", (0, 0, 0.4)), "medium": ("trimf", (0.2, 0.5, 0.8)), "high": ("trimf", (0.6, 1, 1))},
)
# (id, [(variable, term or "term|term")...] combined with AND, output term, why)
RULES = (
    ("R1", [("nonres_share", "high")], "high", "mostly inside industrial/commercial/retail/... land use"),
    (
        "R2",
        [("res_share", "high"), ("nonres_share", "low")],
        "low",
        "inside residential land use (ground-floor shops do not make a block non-residential)",
    ),
    (
        "R3",
        [("pois", "many"), ("res_share", "low")],
        "high",
        "several amenity/shop/office POIs outside residential use",
    ),
    ("R4", [("pois", "some"), ("log_area", "large|huge")], "high", "a POI in a large building"),
    ("R5", [("log_area", "huge")], "high", "footprint above ~2,500-10,000 m2"),
    ("R6", [("log_area", "large"), ("nonres_distance_m", "near")], "high", "large and next to non-residential use"),
    ("R7", [("log_area", "small"), ("pois", "none")], "low", "small footprint without POI"),
    (
        "R8",
        [("log_area", "medium"), ("nonres_distance_m", "far"), ("pois", "none")],
        "low",
        "house-sized, away from non-residential use, no POI",
    ),
    ("R9", [("res_share", "high"), ("log_area", "small|medium")], "low", "small or medium, in residential use"),
    ("R10", [("pois", "some|many"), ("res_share", "high")], "medium", "POIs in residential use: mixed use"),
    (
        "R11",
        [("elongation", "elongated"), ("log_area", "large"), ("nonres_distance_m", "near")],
        "high",
        "long hall next to non-residential use",
    ),
    ("R12", [("density_per_ha", "low"), ("log_area", "small")], "low", "small building in a sparse area"),
    (
        "R13",
        [("nonres_distance_m", "far"), ("nonres_share", "low"), ("pois", "none"), ("log_area", "small|medium")],
        "low",
        "house-sized, nothing non-residential around",
    ),
    ("R14", [("nonres_share", "medium")], "medium", "partly inside non-residential land use"),
    ("R15", [("density_per_ha", "high"), ("pois", "some")], "medium", "dense centre with a POI: mixed use"),
    ("R16", [("log_area", "tiny")], "high", "under ~30 m2: kiosks, sheds, pavilions, garages, not dwellings"),
)
UNDECIDED = 0.5  # when no rule fires, the degree stays in the middle (class "uncertain")


def _membership(universe: np.ndarray, kind: str, params: tuple):
    import skfuzzy as fuzz

    return getattr(fuzz, kind)(universe, list(params))


def _variable(cls, name: str, spec: tuple, terms: dict):
    start, stop, points = spec
    variable = cls(np.linspace(start, stop, points), name)
    for term, (kind, params) in terms.items():
        variable[term] = _membership(variable.universe, kind, params)
    return variable


def build_system():
    from skfuzzy import control as ctrl

    variables = {name: _variable(ctrl.Antecedent, name, spec, terms) for name, spec, terms in ANTECEDENTS}
    output = _variable(ctrl.Consequent, *CONSEQUENT)
    output.defuzzify_method = "centroid"
    rules = []
    for _, conditions, term, _ in RULES:
        antecedent = None
        for name, terms in conditions:
            clause = None
            for option in terms.split("|"):
                clause = variables[name][option] if clause is None else clause | variables[name][option]
            antecedent = clause if antecedent is None else antecedent & clause
        rules.append(ctrl.Rule(antecedent, output[term]))
    return ctrl.ControlSystem(rules)


def nonresidential_degree(features: dict[str, np.ndarray]) -> np.ndarray:
    """Defuzzified non-residential degree per building, vectorised; buildings for which no rule fires get
    UNDECIDED (found by bisection, so one such building does not force a slow per-building evaluation)."""
    n = len(next(iter(features.values())))
    system = build_system()
    return _evaluate(system, features, np.arange(n)) if n else np.zeros(0)


def _evaluate(system, features: dict[str, np.ndarray], index: np.ndarray) -> np.ndarray:
    from skfuzzy import control as ctrl

    simulation = ctrl.ControlSystemSimulation(system)
    for name, (start, stop, _), _ in ANTECEDENTS:
        values = np.clip(np.asarray(features[name], float)[index], start, stop)
        simulation.input[name] = values if len(index) > 1 else float(values[0])
    try:
        simulation.compute()
        degree = np.asarray(simulation.output["nonres"], float).reshape(len(index))
        return np.where(np.isfinite(degree), degree, UNDECIDED)
    except Exception:  # noqa: BLE001 - skfuzzy raises when, for some input, no rule fires
        if len(index) == 1:
            return np.array([UNDECIDED])
        middle = len(index) // 2
        return np.concatenate(
            [_evaluate(system, features, index[:middle]), _evaluate(system, features, index[middle:])]
        )


def membership(variable: str, term: str, value: float) -> float:
    """Degree of ``value`` in one membership function (for documentation and unit tests)."""
    for name, _, terms in (*ANTECEDENTS, CONSEQUENT):
        if name == variable:
            kind, params = terms[term]
            return float(_membership(np.array([float(value)]), kind, params)[0])
    raise KeyError(variable)


def describe() -> str:
    """Markdown tables of the membership functions and rules."""
    lines = ["| variable | term | function | parameters |", "|---|---|---|---|"]
    for name, _, terms in (*ANTECEDENTS, CONSEQUENT):
        lines += [f"| {name} | {term} | {kind} | {params} |" for term, (kind, params) in terms.items()]
    lines += ["", "| rule | if (AND) | then non-residential is | why |", "|---|---|---|---|"]
    for rule_id, conditions, term, why in RULES:
        clause = " AND ".join(f"{n} is {t.replace('|', ' or ')}" for n, t in conditions)
        lines.append(f"| {rule_id} | {clause} | {term} | {why} |")
    return "\n".join(lines)
