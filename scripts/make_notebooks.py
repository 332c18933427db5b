"""Write the analyst notebooks in notebooks/ (cells kept here so they diff cleanly in review).

    python scripts/make_notebooks.py

The test suite executes every notebook (tests/test_notebooks.py).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[1] / "notebooks"

WHAT_IF = [
    new_markdown_cell(
        "# What if a bridge closes, or demand doubles in one district?\n\n"
        "An analyst's what-if on the Wuhan demo scenario (10 Feb 2020), using the same library as "
        "the command line and the app: load the scenario, run the baseline round, change one thing, "
        "run again, and compare who gets what and why."
    ),
    new_code_cell(
        "from pathlib import Path\n\n"
        "import numpy as np\n"
        "import pandas as pd\n\n"
        "import allocator\n"
        "from allocator.network import Rule, travel_times\n"
        "from allocator.network.replan import replan\n"
        "from allocator.scenario import load\n\n"
        "root = Path.cwd() if (Path.cwd() / 'data').is_dir() else Path.cwd().parent\n"
        "sc = load(root / 'data' / 'scenarios' / 'wuhan-2020-02-10')\n"
        "sc.summary()"
    ),
    new_markdown_cell("## The baseline round\n\nTravel times come from the road network under the traffic control in force at `as_of`."),
    new_code_cell(
        "travel = travel_times(sc)\n"
        "base = allocator.allocate(sc, travel=travel)\n"
        "print(base.text)\n"
        "base.fill.groupby('tier')[['need', 'filled', 'shortage']].sum()"
    ),
    new_markdown_cell(
        "## What if the busiest bridge closes too?\n\n"
        "With the tunnels already closed, every crossing of the Yangtze goes over a checkpointed bridge. "
        "Find the checkpoint that the round's trucks pass most often, close its road, and let "
        "`replan` recompute only the depots whose routes the closure can change."
    ),
    new_code_cell(
        "passes = base.routes.explode('checkpoints').dropna(subset=['checkpoints'])\n"
        "rules = sc.traffic_control.set_index('rule_id')\n"
        "busiest = rules.loc[passes.checkpoints.value_counts().index[0], 'road']\n"
        "print('closing', busiest, '- passed by', passes.checkpoints.value_counts().iloc[0], 'planned routes')\n"
        "plan = replan(travel, add=[Rule('WHATIF1', 'closure', road=busiest)])\n"
        "print(f'{len(plan.changes)} depot-site routes changed; recomputed: {plan.recomputed}')\n"
        "assert len(plan.changes) > 0\n"
        "plan.changes.sort_values('change_min', ascending=False).head(10)"
    ),
    new_code_cell(
        "closed = allocator.allocate(sc, travel=plan.travel)\n"
        "cmp = base.fill.merge(closed.fill, on=['site_id', 'item_id', 'tier'], suffixes=('_base', '_closed'))\n"
        "cmp['delta'] = cmp.filled_closed - cmp.filled_base\n"
        "cost = lambda r: r.summary['objectives'].get('transport')\n"
        "print('transport cost (kg x min):', cost(base), '->', cost(closed))\n"
        "cmp.groupby('tier')[['filled_base', 'filled_closed']].sum()"
    ),
    new_markdown_cell(
        "Treatment comes first whatever the roads do: tier-1 fill cannot drop as long as every "
        "hospital stays reachable; the closure only makes trucks drive further."
    ),
    new_code_cell(
        "t1 = cmp[cmp.tier == 1]\n"
        "assert np.isfinite(plan.travel.minutes.to_numpy()).all(), 'a site became unreachable'\n"
        "assert t1.filled_closed.sum() == t1.filled_base.sum()\n"
        "t1.filled_closed.sum()"
    ),
    new_markdown_cell("## What if demand doubles in Wuchang?\n\nDouble every need of the sites in one district and see who pays for it."),
    new_code_cell(
        "wuchang = set(sc.sites.loc[sc.sites.district == 'Wuchang', 'site_id'])\n"
        "needs = sc.needs.copy()\n"
        "needs.loc[needs.site_id.isin(wuchang), 'quantity'] *= 2\n"
        "surge = allocator.allocate(sc.replace(needs=needs), travel=travel)\n"
        "short = surge.fill.query('shortage > 0')\n"
        "pd.crosstab(short.tier, short.reason, values=short.shortage, aggfunc='sum').fillna(0)"
    ),
    new_code_cell(
        "by_district = (surge.fill.merge(sc.sites[['site_id', 'district']], on='site_id')\n"
        "               .groupby('district')[['need', 'filled']].sum())\n"
        "by_district['fill_ratio'] = (by_district.filled / by_district.need).round(3)\n"
        "by_district.sort_values('fill_ratio')"
    ),
]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for i, cell in enumerate(WHAT_IF):
        cell["id"] = f"what-if-{i:02d}"  # stable ids: regenerating changes nothing
    nb = new_notebook(cells=WHAT_IF, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, OUT / "what-if.ipynb")
    print(f"wrote {OUT / 'what-if.ipynb'}")


if __name__ == "__main__":
    main()
