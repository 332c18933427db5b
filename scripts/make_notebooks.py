"""Write the analyst notebooks in notebooks/ (cells kept here so they diff cleanly in review).

    python scripts/make_notebooks.py

Each notebook tells one story on the Wuhan demo scenario with the public library
API. Committed notebooks carry no outputs; the test suite executes every one of
them top to bottom and checks that it drew at least one plot
(tests/test_notebooks.py). ``ALLOCATOR_NOTEBOOK_QUICK=1`` makes the big sweep
small enough for the test run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[1] / "notebooks"

md, code = new_markdown_cell, new_code_cell

SETUP = (
    "from pathlib import Path\n\n"
    "import matplotlib.pyplot as plt\n"
    "import numpy as np\n"
    "import pandas as pd\n\n"
    "import allocator\n"
    "from allocator.network import travel_times\n"
    "from allocator.scenario import load\n\n"
    "root = Path.cwd() if (Path.cwd() / 'data').is_dir() else Path.cwd().parent\n"
    "sc = load(root / 'data' / 'scenarios' / 'wuhan-2020-02-10')\n"
    "plt.rcParams.update({'figure.figsize': (9, 4.5), 'axes.spines.top': False, 'axes.spines.right': False})\n"
)

FIRST_ROUND = [
    md(
        "# A first allocation round\n\n"
        "The Wuhan demo scenario is one morning of the epidemic response, 10 February 2020: 49 sites "
        "(designated, backup and shelter hospitals, fever clinics, quarantine sites, care homes, "
        "communities, medical-team hotels), three depots and the traffic control of that day. This "
        "notebook runs one allocation round, the same one that `allocator round` runs on the command "
        "line, and reads its answer: who gets what, who is short, why, and where the trucks go.\n\n"
        "The round follows the command centre's rules: **treatment first**, tier by tier (designated "
        "hospitals are tier 1), fair shares inside a tier, then the least transport."
    ),
    code(SETUP + "sc.summary()"),
    md("## Run the round\n\nTravel times come from the road network under the traffic control in force at the "
       "round's time (`as_of`)."),
    code(
        "travel = travel_times(sc)\n"
        "result = allocator.allocate(sc, travel=travel)\n"
        "print(result.text)"
    ),
    md("## Fills by tier\n\n`result.fill` has one row per need: how many units were needed, how many were "
       "filled, the shortage and its reason. Tier 1 is served before tier 2, and so on."),
    code(
        "by_tier = result.fill.groupby('tier')[['need', 'filled', 'shortage']].sum()\n"
        "by_tier['fill_ratio'] = (by_tier.filled / by_tier.need).round(3)\n"
        "ax = by_tier.fill_ratio.plot.bar(color='tab:blue', ylim=(0, 1.05), rot=0)\n"
        "ax.set(title='Share of need filled, by tier (1 = designated hospitals)', xlabel='tier', ylabel='filled / need')\n"
        "plt.show()\n"
        "by_tier"
    ),
    md("## What is short, and why\n\nEvery shortage has a reason: `supply` (not enough stock once higher tiers "
       "and fair shares were served), `grade` (only civil-grade goods were left and the site is clinical), "
       "`capacity`, `earmarked` or `unreachable`."),
    code(
        "names = sc.items.set_index('item_id').name.str.split(' \\\\(').str[0]\n"
        "short = result.fill.query('shortage > 0')\n"
        "table = short.pivot_table(index='item_id', columns='reason', values='shortage', aggfunc='sum', fill_value=0)\n"
        "table.index = names.reindex(table.index)\n"
        "ax = table.plot.barh(stacked=True, figsize=(9, 4))\n"
        "ax.set(title='Units short, by item and reason', xlabel='units short', ylabel='')\n"
        "plt.show()\n"
        "table"
    ),
    code(
        "sites = sc.sites.set_index('site_id')\n"
        "worst = (result.fill.groupby('site_id')[['need', 'filled']].sum()\n"
        "         .assign(fill_ratio=lambda d: (d.filled / d.need).round(3))\n"
        "         .join(sites[['name', 'kind', 'tier']]).sort_values('fill_ratio').head(10))\n"
        "worst"
    ),
    md("## Map the shipments\n\nEach line is a depot-to-site route that ships goods this round, as wide as the "
       "weight it carries; the grey web is the road network, the thicker dark lines the Yangtze and Han "
       "crossings (bridges and the closed tunnels)."),
    code(
        "nodes = sc.road_nodes.set_index('node_id')\n"
        "roads = sc.roads\n"
        "weight = sc.items.set_index('item_id').unit_weight_kg\n"
        "ship = result.allocations.assign(kg=lambda a: a.quantity * weight.reindex(a.item_id).to_numpy())\n"
        "flows = ship.groupby(['depot_id', 'site_id']).kg.sum().reset_index()\n"
        "depots = sc.depots.set_index('depot_id')\n\n"
        "fig, ax = plt.subplots(figsize=(9, 9))\n"
        "for kind, style in [('road', dict(color='0.85', lw=0.4)), ('highway', dict(color='0.7', lw=0.8)),\n"
        "                    ('bridge', dict(color='0.2', lw=2)), ('tunnel', dict(color='tab:red', lw=2, ls=':'))]:\n"
        "    r = roads[roads.kind == kind]\n"
        "    u, v = nodes.reindex(r.u), nodes.reindex(r.v)\n"
        "    ax.plot(np.vstack([u.lon, v.lon]), np.vstack([u.lat, v.lat]), **style)\n"
        "for f in flows.itertuples():\n"
        "    d, s = depots.loc[f.depot_id], sites.loc[f.site_id]\n"
        "    ax.plot([d.lon, s.lon], [d.lat, s.lat], color='tab:orange', alpha=0.6, lw=0.5 + 4 * f.kg / flows.kg.max())\n"
        "sc_ = ax.scatter(sites.lon, sites.lat, c=sites.tier, cmap='viridis_r', s=40, zorder=3, edgecolor='k')\n"
        "ax.scatter(depots.lon, depots.lat, marker='s', s=120, color='tab:red', zorder=4, label='depot')\n"
        "for d in depots.itertuples():\n"
        "    ax.annotate(d.Index, (d.lon, d.lat), xytext=(5, 5), textcoords='offset points', weight='bold')\n"
        "fig.colorbar(sc_, ax=ax, label='tier', shrink=0.6)\n"
        "ax.set(title='Shipments of the round (line width = weight)', xlabel='longitude', ylabel='latitude', aspect=1.15)\n"
        "ax.legend(loc='lower right')\n"
        "plt.show()\n"
        "flows.groupby('depot_id').kg.sum().round(1)"
    ),
    md("The independent checker recomputes every rule of the allocation rules from these tables (stock, need, "
       "grade, earmarks, reachability, capacity, tiers, fairness): nothing is broken."),
    code(
        "from allocator.testing import check_round\n"
        "problems = check_round(sc, result, travel.minutes)\n"
        "assert problems == [], problems\n"
        "len(problems)"
    ),
]

TRAFFIC = [
    md(
        "# Traffic control: closing and reopening bridges and tunnels\n\n"
        "On 10 February 2020 the two Yangtze tunnels are closed, every bridge has a checkpoint and the "
        "centre of the city is a restricted zone. What does each crossing carry? What if one more bridge "
        "closes, or a tunnel reopens? This notebook changes one rule at a time and follows the effect on "
        "travel times, on the sites no truck can reach and on the fills."
    ),
    code(
        SETUP +
        "from allocator.network import Rule\n"
        "from allocator.network.replan import replan\n"
        "from allocator import sweep\n\n"
        "sc.traffic_control[['rule_id', 'kind', 'road', 'delay_min', 'start', 'end']]"
    ),
    md("## The baseline round\n\nTravel times come from the road network under the traffic control in force at `as_of`."),
    code(
        "travel = travel_times(sc)\n"
        "base = allocator.allocate(sc, travel=travel)\n"
        "print(base.text.splitlines()[0])\n"
        "base.fill.groupby('tier')[['need', 'filled', 'shortage']].sum()"
    ),
    md(
        "## What if the busiest bridge closes too?\n\n"
        "With the tunnels already closed, every crossing of the Yangtze goes over a checkpointed bridge. "
        "Find the checkpoint that the round's trucks pass most often, close its road, and let "
        "`replan` recompute only the depots whose routes the closure can change."
    ),
    code(
        "passes = base.routes.explode('checkpoints').dropna(subset=['checkpoints'])\n"
        "rules = sc.traffic_control.set_index('rule_id')\n"
        "busiest = rules.loc[passes.checkpoints.value_counts().index[0], 'road']\n"
        "print('closing', busiest, '- passed by', passes.checkpoints.value_counts().iloc[0], 'planned routes')\n"
        "plan = replan(travel, add=[Rule('WHATIF1', 'closure', road=busiest)])\n"
        "print(f'{len(plan.changes)} depot-site routes changed; recomputed: {plan.recomputed}')\n"
        "assert len(plan.changes) > 0\n"
        "plan.changes.sort_values('change_min', ascending=False).head(10)"
    ),
    code(
        "ax = plan.changes.change_min.plot.hist(bins=20, color='tab:orange')\n"
        "ax.set(title=f'Closing {busiest}: extra minutes on the routes that change', xlabel='extra minutes',\n"
        "       ylabel='depot-site routes')\n"
        "plt.show()"
    ),
    code(
        "closed = allocator.allocate(sc, travel=plan.travel)\n"
        "cmp = base.fill.merge(closed.fill, on=['site_id', 'item_id', 'tier'], suffixes=('_base', '_closed'))\n"
        "cost = lambda r: r.summary['totals']['transport_cost']\n"
        "print(f'transport cost (kg x min): {cost(base):,.0f} -> {cost(closed):,.0f}')\n"
        "cmp.groupby('tier')[['filled_base', 'filled_closed']].sum()"
    ),
    md(
        "Treatment comes first whatever the roads do: tier-1 fill cannot drop as long as every "
        "hospital stays reachable; the closure only makes trucks drive further."
    ),
    code(
        "t1 = cmp[cmp.tier == 1]\n"
        "assert np.isfinite(plan.travel.minutes.to_numpy()).all(), 'a site became unreachable'\n"
        "assert t1.filled_closed.sum() == t1.filled_base.sum()\n"
        "t1.filled_closed.sum()"
    ),
    md(
        "## Every crossing, one at a time\n\n"
        "The same question for every bridge and tunnel, as a small sweep: close each bridge in turn, "
        "reopen each tunnel in turn, and close all the Yangtze bridges at once. `allocator.sweep` describes "
        "each change as data and runs one round per variant (here in this process: `client=None`)."
    ),
    code(
        "crossings = sc.roads[sc.roads.kind.isin(['bridge', 'tunnel'])].groupby('name').kind.first()\n"
        "tunnel_rules = rules[(rules.kind == 'closure') & rules.road.isin(crossings[crossings == 'tunnel'].index)]\n"
        "yangtze = [b for b in crossings[crossings == 'bridge'].index if 'Yangtze' in b]\n"
        "options = [None]\n"
        "options += [sweep.CloseRoad(b) for b in crossings[crossings == 'bridge'].index]\n"
        "options += [sweep.LiftRule(r) for r in tunnel_rules.index]\n"
        "options += [tuple(sweep.CloseRoad(b) for b in yangtze)]\n"
        "table = sweep.run_sweep(sc, sweep.grid({'change': options}), client=None, travel=travel)\n"
        "table['label'] = table.change.where(table.change.str.len() < 60, 'close all Yangtze bridges')\n"
        "table[['label', 'fill', 'fill_tier_1', 'fill_tier_2', 'unreachable_sites', 'transport_cost', 'error']]"
    ),
    code(
        "assert (table.error == '').all()\n"
        "base_row = table.iloc[0]\n"
        "t = table.iloc[1:].set_index('label')\n"
        "fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5), sharey=True)\n"
        "((t.transport_cost / base_row.transport_cost - 1) * 100).plot.barh(ax=a1, color='tab:orange')\n"
        "a1.set(title='Transport cost vs today (%)', xlabel='% change', ylabel='')\n"
        "a1.axvline(0, color='k', lw=0.8)\n"
        "(t.unreachable_sites).plot.barh(ax=a2, color='tab:red')\n"
        "a2.set(title='Sites no truck can reach', xlabel='sites')\n"
        "plt.tight_layout()\n"
        "plt.show()"
    ),
    md(
        "Reopening a tunnel shortens the trucks' routes; closing a single bridge only lengthens them, "
        "because the others still carry the traffic. Closing every Yangtze bridge at once cuts the city "
        "in two: every depot is on the Hankou/Hanyang side, so the sites on the Wuchang bank (the Wuchang, "
        "Hongshan, Qingshan and Jiangxia districts) are unreachable and their needs go short for the "
        "reason `unreachable`."
    ),
    code(
        "all_closed = table.iloc[-1]\n"
        "print('unreachable:', all_closed.unreachable)\n"
        "assert all_closed.unreachable_sites > 0 and all_closed.shortage_unreachable > 0\n"
        "lifted = table[table.change.str.startswith('lift')]\n"
        "assert (lifted.transport_cost <= base_row.transport_cost + 1e-6).all()\n"
        "cut = set(all_closed.unreachable.split(';'))\n"
        "sc.sites[sc.sites.site_id.isin(cut)].groupby('district').site_id.count().rename('sites cut off')"
    ),
    md("## What if demand doubles in Wuchang?\n\nDouble every need of the sites in one district and see who pays for it."),
    code(
        "surge = allocator.allocate(sweep.ScaleDemand(2.0, district='Wuchang').apply(sc), travel=travel)\n"
        "by_district = (surge.fill.merge(sc.sites[['site_id', 'district']], on='site_id')\n"
        "               .groupby('district')[['need', 'filled']].sum())\n"
        "before = (base.fill.merge(sc.sites[['site_id', 'district']], on='site_id')\n"
        "          .groupby('district')[['need', 'filled']].sum())\n"
        "ratios = pd.DataFrame({'today': before.filled / before.need, 'Wuchang demand x2': by_district.filled / by_district.need})\n"
        "ax = ratios.sort_values('today').plot.barh()\n"
        "ax.set(title='Share of need filled, by district', xlabel='filled / need', ylabel='')\n"
        "plt.show()\n"
        "short = surge.fill.query('shortage > 0')\n"
        "pd.crosstab(short.tier, short.reason, values=short.shortage, aggfunc='sum').fillna(0)"
    ),
]

SCARCITY = [
    md(
        "# Scarcity and fairness\n\n"
        "How does the allocation behave as stock runs out? This notebook scales every item's stock from "
        "20 % to 150 % of what the sites need, and then compares the product's rule (strict priority by "
        "tier, fair shares inside a tier) with two simpler ways of splitting scarce goods, computed here "
        "in the notebook: a **proportional** split (everyone gets the same share of their need) and "
        "**first come, first served** (requests served in the order they were filed until stock runs out)."
    ),
    code(SETUP + "from allocator import sweep\n\ntravel = travel_times(sc)\n"
         "need = sc.needs.groupby('item_id').quantity.sum()\n"
         "stock = sc.stock[sc.stock.status == 'available'].groupby('item_id').quantity.sum()\n"
         "pd.DataFrame({'need': need, 'stock': stock}).fillna(0).astype(int).assign(stock_over_need=lambda d: (d.stock / d.need).round(2))"),
    md("## Sweep supply from 20 % to 150 % of need\n\nEach variant scales every item's lots so that the item's "
       "total stock is the given share of its total need."),
    code(
        "levels = [0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5]\n"
        "items = [i for i in need.index if stock.get(i, 0) > 0]\n\n"
        "def supply_at(share):\n"
        "    return tuple(sweep.ScaleSupply(share * need[i] / stock[i], item_id=i) for i in items)\n\n"
        "variants = [sweep.Variant(k, supply_at(s), (('supply', f'{s:.0%} of need', s),)) for k, s in enumerate(levels)]\n"
        "table = sweep.run_sweep(sc, variants, client=None, travel=travel)\n"
        "assert (table.error == '').all()\n"
        "table[['supply', 'fill', 'fill_tier_1', 'fill_tier_2', 'fill_tier_3', 'fill_tier_4', 'shortage_supply', 'shortage_grade']]"
    ),
    code(
        "ax = table.set_index('supply_value')[[f'fill_tier_{t}' for t in (1, 2, 3, 4)]].plot(marker='o')\n"
        "ax.set(title='Share of need filled, by tier, as supply grows', xlabel='stock / need', ylabel='filled / need',\n"
        "       ylim=(0, 1.05))\n"
        "ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f'{x:.0%}'))\n"
        "ax.legend([f'tier {t}' for t in (1, 2, 3, 4)])\n"
        "plt.show()"
    ),
    md("Tier 1 fills first: at 20 % of need the designated hospitals get a quarter of what they need and the "
       "backup and shelter hospitals and fever clinics of tier 2 almost nothing; tier 2 catches up only once "
       "tier 1 is full (around 80 %). Tiers 3 and 4 (quarantine sites, care homes, communities) do better than "
       "tier 2 when stock is scarce because they are not clinical: they may take the civil-grade KN95 "
       "respirators and coveralls that no hospital may receive, which this sweep does not scale (nobody "
       "asks for them by name). At 100 % a few needs still go short for the reason `grade`."),
    code(
        "t1 = table.fill_tier_1.to_numpy()\n"
        "assert (np.diff(t1) >= -1e-9).all()  # more stock never lowers tier 1\n"
        "assert table.fill_tier_1.iloc[0] > table.fill.iloc[0]  # treatment first\n"
        "table.fill_tier_1.round(3).tolist()"
    ),
    md(
        "## Three ways to split 50 % of need\n\n"
        "At half the stock that is needed, run the round and compute two alternatives per item in the "
        "notebook, on the same total stock:\n\n"
        "- **proportional**: every need gets the same fraction `stock / need` of the item;\n"
        "- **first come**: needs are served in the order of `needs.csv` (the order requests came in) until "
        "the item's stock is used up.\n\n"
        "The alternatives ignore roads, grades, earmarks, depot capacity and substitutes; the round obeys "
        "them all, so it is the only one of the three that can actually be shipped."
    ),
    code(
        "half = allocator.allocate(sweep.apply(sc, supply_at(0.5)), travel=travel)\n"
        "needs = sc.needs.merge(sc.sites[['site_id', 'tier', 'kind', 'name']], on='site_id')\n"
        "avail = {i: 0.5 * need[i] for i in items}\n"
        "needs['proportional'] = [min(q, q * avail.get(i, 0) / need[i]) for q, i in zip(needs.quantity, needs.item_id)]\n"
        "left = dict(avail)\n"
        "first = []\n"
        "for q, i in zip(needs.quantity, needs.item_id):\n"
        "    take = min(q, left.get(i, 0))\n"
        "    left[i] = left.get(i, 0) - take\n"
        "    first.append(take)\n"
        "needs['first_come'] = first\n"
        "needs = needs.merge(half.fill[['site_id', 'item_id', 'filled']].rename(columns={'filled': 'priority_and_fairness'}),\n"
        "                    on=['site_id', 'item_id'])\n"
        "policies = ['priority_and_fairness', 'proportional', 'first_come']\n"
        "by_tier = needs.groupby('tier')[['quantity', *policies]].sum()\n"
        "shares = by_tier[policies].div(by_tier.quantity, axis=0)\n"
        "ax = shares.plot.bar(rot=0)\n"
        "ax.set(title='Share of need filled by tier at 50 % supply', xlabel='tier', ylabel='filled / need', ylim=(0, 1.05))\n"
        "plt.show()\n"
        "shares.round(3)"
    ),
    md("## Who gains, who loses\n\nPer site, the units of need the product's rule fills minus what a "
       "proportional split would give (all items together, as a share of the site's need)."),
    code(
        "per_site = needs.groupby(['site_id', 'name', 'tier', 'kind'])[['quantity', *policies]].sum().reset_index()\n"
        "per_site['gain_vs_proportional'] = (per_site.priority_and_fairness - per_site.proportional) / per_site.quantity\n"
        "per_site['gain_vs_first_come'] = (per_site.priority_and_fairness - per_site.first_come) / per_site.quantity\n"
        "per_site = per_site.sort_values('gain_vs_proportional')\n"
        "colors = per_site.tier.map({1: 'tab:red', 2: 'tab:orange', 3: 'tab:olive', 4: 'tab:gray'})\n"
        "fig, ax = plt.subplots(figsize=(9, 10))\n"
        "ax.barh(per_site.name.str.slice(0, 40), per_site.gain_vs_proportional, color=colors)\n"
        "ax.axvline(0, color='k', lw=0.8)\n"
        "ax.set(title='Gain of priority + fairness over a proportional split (share of the site\\'s need)',\n"
        "       xlabel='(filled - proportional) / need   [red: tier 1, orange: 2, olive: 3, grey: 4]')\n"
        "ax.tick_params(axis='y', labelsize=7)\n"
        "plt.show()"
    ),
    code(
        "winners = per_site.groupby('tier')[['gain_vs_proportional', 'gain_vs_first_come']].mean().round(3)\n"
        "assert winners.loc[1, 'gain_vs_proportional'] > 0  # the designated hospitals gain\n"
        "winners"
    ),
]

DONATIONS = [
    md(
        "# Following donations through the public ledger\n\n"
        "Donors and the public see where donated goods went through a published snapshot: "
        "`donations.csv`, `donation_usage.csv`, the hash-chained `ledger.jsonl` and a `manifest.json`, "
        "which anyone can check with `allocator verify`. This notebook builds such a snapshot from "
        "scratch in a temporary SQLite database (import the demo, run, approve, dispatch and deliver "
        "a round, publish), verifies it, follows one donation event by event, and measures how long "
        "donated goods waited between receipt and delivery."
    ),
    code(
        SETUP +
        "import json\n"
        "import tempfile\n\n"
        "from allocator import ledger\n"
        "from allocator.store import (add_user, approve_round, confirm_delivery, create_round, current_scenario,\n"
        "                             dispatch_round, import_scenario, open_db, transaction)\n\n"
        "work = Path(tempfile.mkdtemp(prefix='donations-'))\n"
        "engine = open_db(f'sqlite:///{work / \"demo.db\"}')\n"
        "with transaction(engine) as s:\n"
        "    summary = import_scenario(s, sc)\n"
        "    add_user(s, 'li', 'a long passphrase', ['officer'])\n"
        "    add_user(s, 'wang', 'another long passphrase', ['approver'])\n"
        "summary"
    ),
    md("## One round, from draft to delivery\n\nAn officer computes the round on the database's current state, "
       "an approver approves it (which reserves the stock), the trucks are dispatched and every delivery is "
       "confirmed. Each step appends events to the donations' hash chain."),
    code(
        "with transaction(engine) as s:\n"
        "    state = current_scenario(s)\n"
        "    r = allocator.allocate(state)\n"
        "    round_id = create_round(s, state, r.allocations, r.fill, r.summary, 'li').id\n"
        "with transaction(engine) as s:\n"
        "    approve_round(s, round_id, 'wang')\n"
        "    dispatch_round(s, round_id, 'li')\n"
        "    confirm_delivery(s, round_id, 'li')\n"
        "with transaction(engine) as s:\n"
        "    pub = ledger.publish(s, work / 'public')\n"
        "sorted(p.name for p in pub.out_dir.iterdir())"
    ),
    md("## Verify the snapshot\n\nVerification recomputes every hash of the chain and every total of the two "
       "CSV files from the chain, as a donor with nothing but these files would. Then change one number and "
       "verify again."),
    code(
        "check = ledger.verify(pub.out_dir)\n"
        "print(check)\n"
        "assert check.ok\n"
        "import shutil\n"
        "forged = work / 'forged'\n"
        "shutil.copytree(pub.out_dir, forged)\n"
        "lines = (forged / 'ledger.jsonl').read_text().splitlines()\n"
        "i = max(k for k, line in enumerate(lines) if '\"quantity\":' in line)  # the last entry that moves goods\n"
        "entry = json.loads(lines[i]); entry['quantity'] += 1\n"
        "lines[i] = json.dumps(entry, sort_keys=True, separators=(',', ':'))\n"
        "(forged / 'ledger.jsonl').write_text('\\n'.join(lines) + '\\n')\n"
        "bad = ledger.verify(forged)\n"
        "print(bad)\n"
        "assert not bad.ok"
    ),
    md("## Where the donations went"),
    code(
        "donations = pd.read_csv(pub.out_dir / 'donations.csv', dtype={'donation_id': str})\n"
        "usage = pd.read_csv(pub.out_dir / 'donation_usage.csv', dtype={'donation_id': str, 'receiver_org_ref': str})\n"
        "kinds = sc.sites.set_index('site_id').kind\n"
        "delivered = usage[usage.receiver_org_ref.notna()].assign(kind=lambda u: kinds.reindex(u.receiver_org_ref).to_numpy())\n"
        "where = delivered.pivot_table(index='item_id', columns='kind', values='delivered', aggfunc='sum', fill_value=0)\n"
        "ax = where.div(where.sum(axis=1), axis=0).plot.barh(stacked=True, figsize=(9, 5))\n"
        "ax.set(title='Where donated units were delivered, by item (share of units)', xlabel='share', ylabel='')\n"
        "ax.legend(bbox_to_anchor=(1, 1), fontsize=8)\n"
        "plt.show()\n"
        "donations[['donation_id', 'provider_org', 'item_id', 'received', 'allocated', 'in_stock', 'written_off']].head(10)"
    ),
    md("## Follow one donation\n\nThe earmarked N95 respirators of `DN02`, event by event, as the chain records them."),
    code(
        "chain = pd.DataFrame([json.loads(x) for x in (pub.out_dir / 'ledger.jsonl').read_text().splitlines()])\n"
        "dn02 = chain[chain.donation_id == 'DN02'][['seq', 'event', 'lot_id', 'item_id', 'site_id', 'quantity', 'at']]\n"
        "assert list(dict.fromkeys(dn02.event)) == ['pledged', 'received', 'inspected', 'allocated', 'dispatched', 'delivered']\n"
        "dn02"
    ),
    md(
        "## How long donated goods waited\n\n"
        "A donation's `received` date is in the published `donations.csv` (`transaction_date`). The round that "
        "delivered it is the morning of 10 February 2020 (the scenario's `as_of`), and each truck arrives after "
        "its route's travel time. The ledger's own timestamps (`at`) say when each event was recorded in this "
        "database: here the whole day is replayed in seconds, so they only show the order of events; in the "
        "command centre they are the real times."
    ),
    code(
        "received = donations.groupby('donation_id').transaction_date.first().pipe(pd.to_datetime)\n"
        "minutes = travel_times(sc).minutes\n"
        "dl = chain[chain.event == 'delivered'].copy()\n"
        "dl['arrived'] = sc.at + pd.to_timedelta([minutes.at[d, s] for d, s in zip(dl.depot_id, dl.site_id)], unit='min')\n"
        "dl['waited_days'] = (dl.arrived - received.reindex(dl.donation_id).to_numpy()).dt.total_seconds() / 86400\n"
        "assert (dl.waited_days > 0).all()\n"
        "fig, ax = plt.subplots()\n"
        "ax.hist(dl.waited_days, bins=np.arange(0, dl.waited_days.max() + 1), weights=dl.quantity, color='tab:green')\n"
        "ax.set(title='Donated units by days between receipt and delivery', xlabel='days waited', ylabel='units')\n"
        "plt.show()\n"
        "waits = dl.groupby('item_id').apply(lambda g: np.average(g.waited_days, weights=g.quantity), include_groups=False)\n"
        "waits.round(1).sort_values().rename('mean days waited (by unit)')"
    ),
    code(
        "order = chain.groupby('donation_id').apply(lambda g: list(g.sort_values('seq').event), include_groups=False)\n"
        "assert all(e.index('received') < e.index('delivered') for e in order if 'delivered' in e)\n"
        "print(f\"{int(dl.quantity.sum()):,} donated units delivered from {dl.donation_id.nunique()} donations; \"\n"
        "      f\"{(dl.waited_days * dl.quantity).sum() / dl.quantity.sum():.1f} days on average between receipt and delivery\")"
    ),
]

AT_SCALE = [
    md(
        "# A sweep of 200 variants on a Dask cluster\n\n"
        "Analysts ask many questions at once: what if the Second Yangtze Bridge closes *and* a donation is "
        "three days late *and* demand doubles in Wuchang? `allocator.sweep` describes each change as data, "
        "draws a seeded random sample of combinations and runs a round for each on a Dask cluster: the "
        "cores of this machine by default, or a cluster of many machines with one changed line. The "
        "road graph and the base scenario are sent to every worker once; a variant that fails becomes a "
        "row with its error."
    ),
    code(
        SETUP +
        "import os\n\n"
        "from allocator import sweep\n\n"
        "QUICK = os.environ.get('ALLOCATOR_NOTEBOOK_QUICK') == '1'  # the test suite runs a small sweep\n"
        "N = 12 if QUICK else 200\n"
        "travel = travel_times(sc)"
    ),
    md("## What may change\n\nEach axis lists options; `None` is \"as today\". The sample draws one option per "
       "axis for every variant, the same ones for the same seed."),
    code(
        "axes = {\n"
        "    'supply': [sweep.ScaleSupply(f) for f in (0.6, 0.8, 1.0, 1.2, 1.5)],\n"
        "    'bridge': [None, sweep.CloseRoad('Wuhan Yangtze River Second Bridge'), sweep.CloseRoad('Wuhan Yangtze River Bridge'),\n"
        "               sweep.LiftRule('TC01')],\n"
        "    'demand': [None, sweep.ScaleDemand(2.0, district='Wuchang'), sweep.ScaleDemand(1.5, kind='fever_clinic')],\n"
        "    'donation': [None, sweep.DelayDonation('DN29', 3), sweep.CancelDonation('DN03')],\n"
        "    'test_kits': [None, sweep.ExpireEarlier(7, item_id='pcr_test_kit'), sweep.ExpireEarlier(180, item_id='pcr_test_kit')],\n"
        "    'tiers': [None, sweep.SetTier(1, kind='backup_hospital')],\n"
        "}\n"
        "variants = sweep.sample(axes, N, seed=2020)\n"
        "pd.DataFrame([v.columns() for v in variants[:5]])[list(axes)]"
    ),
    md(
        "## Start the cluster\n\n"
        "`local_client()` starts one worker per core of this machine, listening on 127.0.0.1 only; the link "
        "opens Dask's live dashboard (tasks, workers, memory). To use an existing cluster instead, "
        "replace that one line with the scheduler's address:\n\n"
        "```python\n"
        "client = Client('tcp://scheduler.example.org:8786')   # from dask.distributed import Client\n"
        "```\n\n"
        "(or pass the address straight to `run_sweep(..., client='tcp://scheduler.example.org:8786')`). "
        "The workers need this package installed; nothing else changes."
    ),
    code(
        "client = sweep.local_client()\n"
        "print('dashboard:', client.dashboard_link)\n"
        "print(len(client.scheduler_info()['workers']), 'workers')"
    ),
    code(
        "table = sweep.run_sweep(sc, variants, client=client, travel=travel)\n"
        "client.close()\n"
        "print(len(table), 'variants,', (table.error != '').sum(), 'failed,',\n"
        "      f\"{table.seconds.sum():.0f} s of rounds\")\n"
        "table.head()"
    ),
    md("## Read the table\n\nOne row per variant: its choices, the fill by tier and item, the shortages by "
       "reason, the transport cost, the sites no truck reaches, the time it took and its error, if any."),
    code(
        "ok = table[table.error == '']\n"
        "assert len(ok) == len(table)\n"
        "fig, axs = plt.subplots(1, 3, figsize=(14, 4.5), sharey=True)\n"
        "for ax, axis in zip(axs, ['supply', 'demand', 'bridge']):\n"
        "    groups = ok.groupby(axis).fill_tier_2\n"
        "    labels = list(groups.groups)\n"
        "    ax.boxplot([groups.get_group(k) for k in labels])\n"
        "    ax.set_xticks(range(1, len(labels) + 1), [k.replace(' [', '\\n[').replace('Wuhan Yangtze River ', '') for k in labels],\n"
        "                  rotation=30, fontsize=7, ha='right')\n"
        "    ax.set(title=f'tier-2 fill by {axis}')\n"
        "axs[0].set_ylabel('filled / need (backup, shelter hospitals, fever clinics)')\n"
        "plt.tight_layout()\n"
        "plt.show()"
    ),
    code(
        "effects = {}\n"
        "for axis in axes:\n"
        "    m = ok.groupby(axis)[['fill_tier_1', 'fill_tier_2', 'fill', 'transport_cost']].mean()\n"
        "    effects[axis] = m.max() - m.min()\n"
        "effects = pd.DataFrame(effects).T\n"
        "ax = effects[['fill_tier_1', 'fill_tier_2', 'fill']].plot.barh()\n"
        "ax.set(title='How much each choice moves the fills (range of the means)', xlabel='difference in fill ratio')\n"
        "plt.show()\n"
        "effects.round(3)"
    ),
    code(
        "fig, ax = plt.subplots()\n"
        "sc_ = ax.scatter(ok.transport_cost, ok.fill_tier_2, c=ok.supply_value, cmap='viridis', s=25)\n"
        "fig.colorbar(sc_, label='supply factor')\n"
        "ax.set(title='Each variant: transport cost vs tier-2 fill', xlabel='transport cost (kg x min)', ylabel='tier-2 fill')\n"
        "plt.show()"
    ),
]

NOTEBOOKS = {
    "01-first-round": FIRST_ROUND,
    "02-traffic-control": TRAFFIC,
    "03-scarcity-and-fairness": SCARCITY,
    "04-donations": DONATIONS,
    "05-sweep-at-scale": AT_SCALE,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` with stable cell ids and no outputs."""
    cells = [nbformat.from_dict(dict(c)) for c in NOTEBOOKS[name]]
    for i, cell in enumerate(cells):
        cell["id"] = f"{name[:2]}-{i:02d}"  # stable ids: regenerating changes nothing
    return new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name in NOTEBOOKS:
        path = OUT / f"{name}.ipynb"
        nbformat.write(build(name), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
